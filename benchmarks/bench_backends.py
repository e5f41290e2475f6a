"""Images per second of every backend installed here, side by side in one run.

Runs ``bench_masking.py`` once per backend (TensorFlow, JAX, PyTorch: each
one that imports), in a subprocess of its own with ``KERAS_BACKEND`` set and
the same arguments, then prints one table of training and inference images
per second and writes the per-backend JSON files plus a summary JSON.

    python benchmarks/bench_backends.py --models wrn-10-1 --batch-sizes 128 --input-shape 28 28 1
"""

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this tree's supermask_lib

from supermask_lib.report import records  # noqa: E402
MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
VARIANTS = ("plain_train", "mask_train", "weights_train", "plain_infer", "collapsed_infer")


def installed_backends():
    return [name for name, module in MODULES.items() if importlib.util.find_spec(module) is not None]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="Other arguments go to bench_masking.py unchanged.")
    parser.add_argument("--backends", nargs="+", default=None, help="default: every one installed")
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "backends")
    args, passed = parser.parse_known_args(argv)
    backends = args.backends or installed_backends()
    rows, files = [], {}
    for backend in backends:
        kind = f"{backend}-backends"
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        print(f"== {backend}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / "bench_masking.py"), *passed, "--out-dir", str(args.out_dir),
                               "--kind", kind], env=env)
        if done.returncode != 0:
            print(f"   {backend} failed (exit {done.returncode}); its row is left out", flush=True)
            continue
        record = records.newest_record(args.out_dir, kind)  # the one it has just written
        files[backend], report = record.path.name, record.payload
        for result in report["results"]:
            rows.append({"backend": f"{backend} {report['environment']['backend_version']}",
                         "model": result["model"], "batch": result["batch_size"],
                         **{k: result["images_per_second"][k] for k in VARIANTS}})
    print(f"\nimages per second ({' '.join(passed) or 'defaults'})")
    print(f"{'backend':<18} {'model':<10} {'batch':>5} " + " ".join(f"{k:>15}" for k in VARIANTS))
    for row in rows:
        print(f"{row['backend']:<18} {row['model']:<10} {row['batch']:>5} "
              + " ".join(f"{row[k]:>15.1f}" for k in VARIANTS))
    summary = records.write_record(args.out_dir, "backends", {"arguments": passed, "files": files, "rows": rows})
    print(f"\nwrote {summary}")


if __name__ == "__main__":
    main()
