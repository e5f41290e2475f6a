#!/usr/bin/env bash
# One session on a GPU host with JAX and no TensorFlow (the device machines we
# are lent): the masking benchmark, then as much of the full MNIST profile as
# TRAIN_SECONDS allows (the run resumes if started again). Everything lands in OUT.
#
#   bash benchmarks/gpu_session.sh OUT [TRAIN_SECONDS]
#
# The host's setup: benchmarks/gpu_host.sh; the MNIST file in $SUPERMASK_DATA_DIR.
set -u
out=${1:?give an output folder}
train_seconds=${2:-300}
mkdir -p "$out"
export KERAS_BACKEND=jax
source benchmarks/gpu_host.sh

# The benchmark at the full profile's settings (bfloat16, XLA), WRN-28-8 at the study's batch of 128.
timeout 200 python3 benchmarks/bench_masking.py --models wrn-28-8 --batch-sizes 128 --steps 5 --repeats 3 \
  --jit-compile true --mixed-precision bfloat16 --out-dir "$out" --kind bench-jax-gpu 2>&1 | tee "$out/bench.log"

# The full MNIST profile as it stands, for as long as there is time (kills resume later).
start=$(date +%s)
timeout "$train_seconds" python3 -m supermask_lib --profile full --dataset mnist --out-dir /tmp/runs 2>&1 \
  | grep -v "^WARNING: All log" | tee "$out/full-mnist.log"
echo "training wall seconds: $(( $(date +%s) - start ))" | tee -a "$out/full-mnist.log"
# The run's small files (configuration with provenance, manifest, histories); no checkpoints.
tar czf "$out/full-mnist-run.tgz" -C /tmp/runs --exclude='*.keras' --exclude='*.h5' --exclude='*.npz' \
  --exclude='.lock' . && ls -la "$out"
