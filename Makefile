# The two commands of the README, each setting up its own environment:
#   make report [PROFILE=quick|full|tiny]   run the notebooks, build the book
#   make test                               run the test suite
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= quick
EXTRAS ?= tf,report,test
comma := ,
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONUNBUFFERED := 1

.PHONY: report test test-jax lab benchmark env clean-book study study-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (supermask)" >/dev/null
	touch $@

env: $(STAMP)

report: $(STAMP)
	$(BIN)/python -m supermask_lib.report --profile $(PROFILE)

# Everything on TensorFlow (the default backend), then on JAX the library's
# backend-neutral core (layers, estimators, trainable sets, statistics, models)
# and the experiment: its runs, resume after kills, and the bad-input catalogue.
JAX_TESTS := tests/test_layers.py tests/test_trainable.py tests/test_statistics.py tests/test_models.py \
	tests/test_config.py tests/test_experiment.py tests/test_runs.py tests/test_bad_inputs.py
test: $(STAMP)
	$(BIN)/python -m pytest
	KERAS_BACKEND=jax $(BIN)/python -m pytest $(JAX_TESTS)

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/python -m pytest $(JAX_TESTS)

# The study behind the book's answer (about an hour on 2 CPU cores): trains every
# seed's runs into runs/ and stores their small files in results/study/ (it refuses
# to replace stored files that differ: move them away first). study-check recomputes
# into a fresh folder and prints how far each run is from the stored one.
study: $(STAMP)
	$(BIN)/python -m supermask_lib.study --profile study --store results/study

study-check: $(STAMP)
	$(BIN)/python -m supermask_lib.study --profile study --runs-dir runs/study-check --check results/study

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_masking.py

clean-book:
	rm -rf book/_build book/results
