#!/usr/bin/env bash
# The CIFAR-10 half of the literature runs on a GPU host with JAX (and no TensorFlow):
# every variant of params/literature-cifar10.yaml at once, one process each (the networks
# are small; together they share the GPU), then the small files of the finished runs in
# OUT/literature/cifar10 and the partial histories of the others in OUT/partial. Beside
# them, the tiny profile on the torch backend, where the host has PyTorch.
#
#   SUPERMASK_GIT_REVISION=<commit> [VARIANTS="a b"] bash benchmarks/gpu_literature.sh OUT [SECONDS]
#
# The host's setup: benchmarks/gpu_host.sh; the data file in $SUPERMASK_DATA_DIR. The device
# tool returns few files and no deep folders: pack OUT into one archive there.
set -u
out=${1:?give an output folder}
seconds=${2:-420}
mkdir -p "$out/partial"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
source benchmarks/gpu_host.sh

variants=${VARIANTS:-$(KERAS_BACKEND=jax python3 -c "
from supermask_lib.study.literature import load_literature_profile
print(' '.join(load_literature_profile('params', 'cifar10')))")}
for variant in $variants; do
  KERAS_BACKEND=jax timeout "$seconds" python3 -m supermask_lib.study.literature --datasets cifar10 --variants "$variant" \
    --runs-dir /tmp/runs --store "$out/literature" > "$out/$variant.log" 2>&1 &
done
KERAS_BACKEND=torch timeout 240 python3 -m supermask_lib --profile tiny --dataset cifar10 --out-dir /tmp/torch-runs \
  > "$out/torch-tiny.log" 2>&1 &
wait
tail -n 3 "$out"/*.log
for history in /tmp/runs/*/history_mask.csv; do
  cp "$history" "$out/partial/$(basename "$(dirname "$history")").csv"
done
ls -laR "$out"
