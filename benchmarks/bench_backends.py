"""Images per second of every backend installed here, side by side in one run.

Runs ``bench_masking.py`` once per backend (TensorFlow, JAX, PyTorch: each
one that imports), in a subprocess of its own with ``KERAS_BACKEND`` set and
the same arguments, then prints one table of training and inference images
per second and writes the per-backend JSON files plus a summary JSON.

    python benchmarks/bench_backends.py --models wrn-10-1 --batch-sizes 128 --input-shape 28 28 1
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
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
    stamp = time.strftime("%Y%m%dT%H%M", time.gmtime())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows, files = [], {}
    for backend in backends:
        out = args.out_dir / f"{backend}-backends-{stamp}.json"
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        print(f"== {backend}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / "bench_masking.py"), *passed, "--out", str(out)], env=env)
        if done.returncode != 0:
            print(f"   {backend} failed (exit {done.returncode}); its row is left out", flush=True)
            continue
        files[backend] = out.name
        report = json.loads(out.read_text())
        for result in report["results"]:
            rows.append({"backend": f"{backend} {report['environment']['backend_version']}",
                         "model": result["model"], "batch": result["batch_size"],
                         **{k: result["images_per_second"][k] for k in VARIANTS}})
    print(f"\nimages per second ({' '.join(passed) or 'defaults'})")
    print(f"{'backend':<18} {'model':<10} {'batch':>5} " + " ".join(f"{k:>15}" for k in VARIANTS))
    for row in rows:
        print(f"{row['backend']:<18} {row['model']:<10} {row['batch']:>5} "
              + " ".join(f"{row[k]:>15.1f}" for k in VARIANTS))
    summary = args.out_dir / f"backends-{stamp}.json"
    summary.write_text(json.dumps({"arguments": passed, "files": files, "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {summary}")


if __name__ == "__main__":
    main()
