#!/usr/bin/env bash
# One lease of a GPU host with JAX and no TensorFlow (the device machines we are lent), in three stages
# that each stop at a deadline and keep what finished:
#   1. the input path's share of a full-profile CIFAR-10 epoch (benchmarks/bench_input_path.py);
#   2. the width axis's wide cells (params/scale-cifar10.yaml, widths WIDTHS, seeds 0 1 2) with XLA,
#      each finished cell's small files stored under OUT/scale/;
#   3. the full CIFAR-10 profile (WRN-28-8, 30 epochs a phase), as far as the time allows.
# Run folders live in /tmp/runs, so a second call on the same machine resumes them.
#
#   SUPERMASK_DATA_DIR=... SUPERMASK_GIT_REVISION=<commit> bash benchmarks/gpu_width_axis.sh OUT [SECONDS] [WIDTHS]
#
# The host's setup (Keras from the wheels in .whl/, the GPU's name, an import check): benchmarks/gpu_host.sh.
set -u
out=${1:?give an output folder}
seconds=${2:-540}
widths=${3:-4 8}
deadline=$(( $(date +%s) + seconds ))
left() { echo $(( deadline - $(date +%s) )); }
mkdir -p "$out" /tmp/runs /tmp/store
export KERAS_BACKEND=jax
source benchmarks/gpu_host.sh

timeout $(( $(left) < 130 ? $(left) : 130 )) python3 benchmarks/bench_input_path.py --profile full --dataset cifar10 \
  --backends jax --epochs 1 --out-dir "$out" > "$out/bench.log" 2>&1
tail -4 "$out/bench.log"

timeout $(( $(left) - 120 )) python3 -m supermask_lib.study.scale --dataset cifar10 --widths $widths --jit-compile true \
  --runs-dir /tmp/runs --store /tmp/store 2>&1 | grep -v "^WARNING: All log" > "$out/scale.log"
grep "^==" "$out/scale.log"
tar czf "$out/scale.tgz" -C /tmp/store .

timeout $(( $(left) - 10 )) python3 -m supermask_lib --profile full --dataset cifar10 --out-dir /tmp/runs 2>&1 \
  | grep -v "^WARNING: All log" > "$out/full-cifar10.log"
tail -3 "$out/full-cifar10.log"
tar czf "$out/full-cifar10-run.tgz" -C /tmp/runs --exclude='*.keras' --exclude='*.h5' --exclude='*.npz' \
  --exclude='.lock' $(cd /tmp/runs && ls -d cifar10-wrn-28-8-* 2>/dev/null)
ls -la "$out"
