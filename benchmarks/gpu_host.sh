# Sourced by the scripts for a lent GPU host (JAX, PyTorch, no TensorFlow or Keras), with $out set:
# Keras and its two missing dependencies from the wheels in .whl/ (see the cost appendix), the JAX
# compilation cache (the same programs recur across arms, seeds and calls), the GPU's name in
# $out/nvidia-smi.csv, and a check that the library imports before any long work starts.
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
export JAX_COMPILATION_CACHE_DIR=/tmp/jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
  JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/nvidia-smi.csv"
KERAS_BACKEND=${KERAS_BACKEND:-jax} python3 -c "import jax, keras, supermask_lib
print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)" || exit 1
