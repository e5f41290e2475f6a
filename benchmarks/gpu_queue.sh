#!/usr/bin/env bash
# One lease of a GPU host with JAX and no TensorFlow: the GPU queue (params/gpu-queue.yaml) inside BUDGET
# minutes of compute, each finished cell's small files stored in /tmp/queue-store as it finishes and copied
# into OUT with the summary. Run folders live in /tmp/runs, so a second call on the same machine resumes them;
# cells stored in results/ (carried with the tree) are skipped.
#
#   SUPERMASK_DATA_DIR=... SUPERMASK_GIT_REVISION=<commit> bash benchmarks/gpu_queue.sh OUT [BUDGET_MINUTES]
#
# Keras and its two missing dependencies travel as wheels in .whl/ (see the cost appendix), as in gpu_session.sh.
set -u
out=${1:?give an output folder}
budget=${2:-11}
mkdir -p "$out" /tmp/runs /tmp/queue-store
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
export JAX_COMPILATION_CACHE_DIR=/tmp/jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
  JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/nvidia-smi.csv" 2>&1
# A hard stop one minute past the budget, so the copy below still happens if an estimate was short.
timeout $(( ${budget%.*} * 60 + 60 )) python3 benchmarks/gpu_queue.py --budget-minutes "$budget" --runs-dir /tmp/runs \
  --store-dir /tmp/queue-store --stored results 2>&1 | grep -v "^WARNING: All log" > "$out/queue.log"
tail -30 "$out/queue.log"
cp -r /tmp/queue-store/. "$out/"
ls -R "$out" | head -50
