# The two commands of the README, each setting up its own environment:
#   make report [PROFILE=quick|full|tiny]   run the notebooks, build the book
#   make test                               run the test suite
# On a GPU: BACKEND=tensorflow|jax picks the backend, ACCEL=cuda|cpu the build
# (detected with nvidia-smi); a CUDA build gets its own environment, .venv-cuda.
PYTHON ?= python3
BACKEND ?= tensorflow
ACCEL ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo cuda || echo cpu)
BACKEND_EXTRA := $(if $(filter jax,$(BACKEND)),jax,tf)$(if $(filter cuda,$(ACCEL)),-cuda,)
VENV ?= $(if $(filter cuda,$(ACCEL)),.venv-cuda,.venv)
PROFILE ?= quick
EXTRAS ?= $(BACKEND_EXTRA),report,test
comma := ,
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONUNBUFFERED := 1

.PHONY: report test test-jax test-torch lock lock-torch env-torch lab benchmark benchmark-backends benchmark-quick benchmark-topk benchmark-machines benchmark-input benchmark-traces env clean-book study study-check study-kernels scale scale-check tuned gpu-queue literature literature-check tensorboard wheel-check

# The default environments install from an exact lock (requirements/lock-<tf|jax>.txt, made by uv from
# pyproject.toml's ranges: `make lock` refreshes it), and the venv remembers which lock it holds, so every
# run's provenance names it. Other EXTRAS (the CUDA builds) install from the ranges.
LOCK := $(if $(filter $(BACKEND_EXTRA),tf jax),$(if $(filter $(EXTRAS),$(BACKEND_EXTRA)$(comma)report$(comma)test),requirements/lock-$(BACKEND_EXTRA).txt))
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
ifneq ($(LOCK),)
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	cp $(LOCK) $(VENV)/supermask-lock.txt
else
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	rm -f $(VENV)/supermask-lock.txt
endif
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (supermask)" >/dev/null
	touch $@

env: $(STAMP)

# PyTorch, the third backend, has its own environment (.venv-torch, from requirements/lock-torch.txt: torch and
# the test extra) for `make test-torch`. The lock pins PyTorch's CPU build, torch==2.13.0+cpu: a 183 MiB wheel
# whose dependencies are pure Python (1.7 GiB venv, about 80 s to install on 2 cores). That build is not on
# PyPI, whose Linux x86_64 wheel is the CUDA one: 2.8 GiB to download with the nvidia-*, cuda-* and triton
# packages it names (5.3 GiB installed), and without them `import torch` fails (libcudnn.so.9; tried with
# 2.13.0 installed --no-deps). pip finds the CPU wheel in TORCH_FIND_LINKS: a copy lies in /opt/wheels on this
# project's machines, CI's included; elsewhere point it at a folder or page of PyTorch's CPU wheels.
TORCH_VENV := .venv-torch
TORCH_BIN := $(TORCH_VENV)/bin
TORCH_LOCK := requirements/lock-torch.txt
TORCH_STAMP := $(TORCH_VENV)/.installed-torch-test
TORCH_FIND_LINKS ?= /opt/wheels
$(TORCH_STAMP): pyproject.toml $(TORCH_LOCK)
	test -x $(TORCH_BIN)/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_BIN)/python -m pip install --quiet --upgrade pip
	$(TORCH_BIN)/python -m pip install --quiet --find-links $(TORCH_FIND_LINKS) -r $(TORCH_LOCK) || { echo \
		"$(TORCH_LOCK) pins PyTorch's CPU build ($$(grep '^torch==' $(TORCH_LOCK))), not on PyPI:" \
		"set TORCH_FIND_LINKS to a folder or page of PyTorch's CPU wheels" >&2; exit 1; }
	$(TORCH_BIN)/python -m pip install --quiet --no-deps -e .
	cp $(TORCH_LOCK) $(TORCH_VENV)/supermask-lock.txt
	touch $@

env-torch: $(TORCH_STAMP)

# Re-resolve the locks to the newest versions pyproject.toml's ranges allow (then `make test`, and commit them).
LOCK_PYTHON = $(shell $(BIN)/python -c 'import platform; print(platform.python_version())')
LOCK_FLAGS = --python-version $(LOCK_PYTHON) --python-platform x86_64-unknown-linux-gnu --no-annotate \
	--custom-compile-command "make lock" --quiet
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	for extra in tf jax; do $(BIN)/uv pip compile pyproject.toml --extra $$extra --extra report --extra test \
		$(LOCK_FLAGS) --upgrade -o requirements/lock-$$extra.txt; done
	$(MAKE) lock-torch -o $(STAMP) TORCH_LOCK_UPGRADE=--upgrade

# The torch lock alone (`make lock` runs it after the others): its shared pins are lock-tf.txt's, and torch is
# the CPU build requirements/torch-cpu.txt names (both constraints), found in TORCH_FIND_LINKS (uv looks only
# where it is told). Without TORCH_LOCK_UPGRADE=--upgrade it keeps its other pins.
lock-torch: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra torch --extra test -c requirements/lock-tf.txt -c requirements/torch-cpu.txt \
		--find-links $(TORCH_FIND_LINKS) $(LOCK_FLAGS) $(TORCH_LOCK_UPGRADE) -o $(TORCH_LOCK)

# A line per notebook (a bar on a terminal); the full output goes to book/_build/report.log, or also to the
# console with VERBOSE=1.
report: $(STAMP)
	KERAS_BACKEND=$(BACKEND) $(BIN)/python -m supermask_lib.report.pipeline --profile $(PROFILE)$(if $(filter-out 0,$(VERBOSE)), --verbose)

# Everything on TensorFlow (the default backend), then on JAX the library's
# backend-neutral core (layers, estimators, initializers, trainable sets, mask utilisation and
# export, models, data, the arm table, configuration, profiles and their YAML), the engine and
# the experiment (its runs, resume after kills, the bad-input catalogue, the CPU guard of the
# command line and the report), the multi-device engine on two virtual CPUs, the full profile's
# smoke test, and the report's notebook that trains (tests/README.md says which file tests what).
# Two run once, on TensorFlow: the crash-consistency test (what it checks, the run folder's file
# protocol in runs.py, holds no backend code, and the kills on JAX are test_runs.py's) and the whole
# book (its other pages read stored runs the same way on every backend; on JAX test_report.py runs
# the experiment notebook, the one part of the report that trains on the backend).
JAX_TESTS := tests/test_data.py tests/test_batches.py tests/test_layers.py tests/test_estimators.py tests/test_initializers.py \
	tests/test_trainable.py tests/test_utilization.py tests/test_export.py tests/test_batchnorm.py tests/test_controls.py tests/test_arms.py tests/test_callbacks.py \
	tests/test_models.py tests/test_config.py tests/test_profiles.py tests/test_yamlfiles.py tests/test_recipes.py \
	tests/test_engine.py tests/test_experiment.py tests/test_runs.py tests/test_results.py tests/test_bad_inputs.py tests/test_cli.py \
	tests/test_report.py tests/test_multi_device.py tests/test_full_profile.py
# Third, on PyTorch's CPU build in its own environment (.venv-torch, above), JAX_TESTS but three, and the lock
# and provenance the venv records: the core, data, arms, configuration, the engine and the experiment (three
# phases, the controls, resume after an interruption and after kills, the bad-input catalogue, the command line).
# Not there: the multi-device engines (TensorFlow's and JAX's), the full profile's smoke test (its settings
# are the configuration's, which run here) and the report's notebook (the report's packages are not in the venv).
TORCH_TESTS := $(filter-out tests/test_report.py tests/test_multi_device.py tests/test_full_profile.py,$(JAX_TESTS)) \
	tests/test_lock.py tests/test_provenance.py
# A worker per core, at most 4 (pytest-xdist; TEST_WORKERS=0 runs in one process); tests that share the
# built book or a module's trained run stay on one worker (tests/conftest.py groups them).
TEST_WORKERS ?= auto
XDIST := -n $(TEST_WORKERS) --maxprocesses 4 --dist loadgroup
test: $(STAMP) $(TORCH_STAMP)
	$(BIN)/python -m pytest $(XDIST)
	KERAS_BACKEND=jax $(BIN)/python -m pytest $(XDIST) $(JAX_TESTS)
	KERAS_BACKEND=torch $(TORCH_BIN)/python -m pytest $(XDIST) $(TORCH_TESTS)

# The built wheel by plain pip (pyproject.toml's ranges, no lock) in a clean environment on JAX: imports from
# site-packages and runs the README's library example (CI runs it after `make test`; about a minute).
wheel-check:
	bash .ci/wheel_check

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/python -m pytest $(XDIST) $(JAX_TESTS)

test-torch: $(TORCH_STAMP)
	KERAS_BACKEND=torch $(TORCH_BIN)/python -m pytest $(XDIST) $(TORCH_TESTS)

# The study behind the book's answer (about three hours on 2 CPU cores): trains every
# seed's runs into runs/ and stores their small files in results/study/ (it refuses
# to replace stored files that differ: move them away first). study-check recomputes
# into a fresh folder and prints how far each run is from the stored one.
STUDY ?= study
study: $(STAMP)
	$(BIN)/python -m supermask_lib.study.seeds --profile $(STUDY) --store results/$(STUDY)

study-check: $(STAMP)
	$(BIN)/python -m supermask_lib.study.seeds --profile $(STUDY) --runs-dir runs/$(STUDY)-check --check results/$(STUDY)

# MNIST seed 0 of the study with oneDNN capped to AVX2 (other kernels, as on another CPU), stored in
# results/variation/ for the book's cross-CPU spread (about 12 minutes on 2 CPU cores).
study-kernels: $(STAMP)
	ONEDNN_MAX_CPU_ISA=AVX2 $(BIN)/python -m supermask_lib.study.seeds --profile study --datasets mnist --seeds 0 \
		--runs-dir runs/study-avx2 --store results/variation --check results/study

# The width axis (params/scale-cifar10.yaml): every (width, seed) cell, narrowest first, each stored in
# results/scale/cifar10/ as it finishes and reused when run again; many hours on 2 CPU cores
# (WIDTHS="1 2" stops short of the widest).
scale: $(STAMP)
	$(BIN)/python -m supermask_lib.study.scale --dataset cifar10 --store results/scale $(if $(WIDTHS),--widths $(WIDTHS))

# Recompute the stored cells into a fresh folder and print how far each is from its stored twin
# (WIDTHS="1" SEEDS="0" for one cell, about 20 minutes on 2 CPU cores).
scale-check: $(STAMP)
	$(BIN)/python -m supermask_lib.study.scale --dataset cifar10 --runs-dir runs/scale-check --store "" --check results/scale \
		$(if $(WIDTHS),--widths $(WIDTHS)) $(if $(SEEDS),--seeds $(SEEDS))

# Each estimator at its authors' recipe (supermask_lib/recipes.py), stored like the study in
# results/literature/: MNIST about 40 minutes on 2 CPU cores; CIFAR-10 is GPU work
# (LITERATURE=cifar10 on a GPU host, or benchmarks/gpu_literature.sh on one without Jupyter).
LITERATURE ?= mnist
literature: $(STAMP)
	$(BIN)/python -m supermask_lib.study.literature --datasets $(LITERATURE) --store results/literature

literature-check: $(STAMP)
	$(BIN)/python -m supermask_lib.study.literature --datasets $(LITERATURE) --runs-dir runs/literature-check \
		--check results/literature

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# TensorBoard on a folder of runs (RUNS=runs): every run trained with `tensorboard: true` (a profile's field,
# `--set tensorboard=true`, `-p tensorboard True`) logs each arm to <run>/tensorboard/<arm>/{train,validation}.
# A resumed run's logs span several event files of one folder: --reload_multifile follows them all.
RUNS ?= runs
tensorboard: $(STAMP)
	$(BIN)/tensorboard --logdir $(RUNS) --reload_multifile true

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_masking.py

# Images per second of every installed backend, side by side (the quick profile's network).
benchmark-backends: $(STAMP)
	$(BIN)/python benchmarks/bench_backends.py --models wrn-10-1 --batch-sizes 128 --input-shape 28 28 1

# The quick profile's whole training, before (an earlier revision of the library) and after,
# side by side in one run (about half an hour on 2 CPU cores for these four variants).
benchmark-quick: $(STAMP)
	$(BIN)/python benchmarks/bench_quick_profile.py --variants before after-one-worker after after-inter-op-1

# Edge-popup's mask selection, top_k against largest_k, on every installed backend (a few minutes).
benchmark-topk: $(STAMP)
	$(BIN)/python benchmarks/bench_topk.py

# The quick profile's expected training time per class of CPU (AVX-512; AVX2 under the library's
# default and under TensorFlow's), emulated through oneDNN's switches (about 10 minutes on 2 cores).
benchmark-machines: $(STAMP)
	$(BIN)/python benchmarks/bench_machine_classes.py --profiles quick

# The input path's share of an epoch, augmentation on the host and in the step, per backend
# (a few minutes; on a GPU host: benchmarks/bench_input_path.py --profile full --backends jax).
benchmark-input: $(STAMP)
	$(BIN)/python benchmarks/bench_input_path.py

# One trace per kind of step against one per arm: a width-axis cell (shortened) run both ways, side by side,
# in fresh processes (a few minutes; on a GPU host: benchmarks/bench_arm_traces.py --width 4 --backends jax).
benchmark-traces: $(STAMP)
	$(BIN)/python benchmarks/bench_arm_traces.py

clean-book:
	rm -rf book/_build book/results

# The tuned width axis (issue: one answer the evidence supports): for each width and dataset, every arm's
# rate tuned on validation data (params/tuning-<dataset>.yaml, stored in results/tuning/), then the
# evaluation seeds at the chosen rates (params/tuned-<dataset>.yaml, stored in results/tuned/). About 2.5
# CPU hours per dataset at width 1 and 5 at width 2 on 2 cores; the wide cells are the GPU queue's.
TUNED_WIDTHS ?= 1 2
TUNED_DATASETS ?= cifar10 mnist
tuned: $(STAMP)
	for width in $(TUNED_WIDTHS); do for dataset in $(TUNED_DATASETS); do \
		$(BIN)/python -m supermask_lib.study.tuning --dataset $$dataset --widths $$width && \
		$(BIN)/python -m supermask_lib.study.scale --axis tuned --dataset $$dataset --widths $$width || exit 1; \
	done; done

# The GPU queue (params/gpu-queue.yaml): the engine bridge, twice the epochs, the wide tuned cells, the full MNIST profile, in
# priority order inside BUDGET minutes (default: the file's); cells stored in results/ are skipped. On a lent
# GPU host: bash benchmarks/gpu_queue.sh OUT [BUDGET].
# QUEUE=params/cpu-queue.yaml runs the long-enough check's cells on this CPU instead (hours; same store layout).
QUEUE ?= params/gpu-queue.yaml
gpu-queue: $(STAMP)
	$(BIN)/python benchmarks/gpu_queue.py --queue $(QUEUE) $(if $(BUDGET),--budget-minutes $(BUDGET))
