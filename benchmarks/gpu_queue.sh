#!/usr/bin/env bash
# One lease of a GPU host with JAX and no TensorFlow: the GPU queue (params/gpu-queue.yaml) inside BUDGET
# minutes of compute, each finished cell's small files stored in /tmp/queue-store as it finishes and copied
# into OUT with the summary. Run folders live in /tmp/runs, so a second call on the same machine resumes them;
# cells stored in results/ (carried with the tree) are skipped.
#
#   SUPERMASK_DATA_DIR=... SUPERMASK_GIT_REVISION=<commit> bash benchmarks/gpu_queue.sh OUT [BUDGET_MINUTES]
#
# The host's setup (Keras from the wheels in .whl/, the GPU's name, an import check): benchmarks/gpu_host.sh.
set -u
out=${1:?give an output folder}
budget=${2:-11}
mkdir -p "$out" /tmp/runs /tmp/queue-store
export KERAS_BACKEND=jax
source benchmarks/gpu_host.sh
# A hard stop one minute past the budget, so the copy below still happens if an estimate was short.
timeout $(( ${budget%.*} * 60 + 60 )) python3 benchmarks/gpu_queue.py --budget-minutes "$budget" --runs-dir /tmp/runs \
  --store-dir /tmp/queue-store --stored results 2>&1 | grep -v "^WARNING: All log" > "$out/queue.log"
tail -30 "$out/queue.log"
cp -r /tmp/queue-store/. "$out/"
ls -R "$out" | head -50
