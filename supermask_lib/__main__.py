"""One run from the command line, for machines without Jupyter (a GPU host with JAX, say).

    python -m supermask_lib --profile full --dataset mnist [--set epochs=2 seed=1] [--out-dir runs]
"""

import argparse
import os

from supermask_lib.experiment import yamlfiles
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.profiles import Profile


def main(argv=None):
    """Run (or resume) one profile's experiment; ``--set name=value`` overrides a field (read as YAML)."""
    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--params-dir", default="params")
    parser.add_argument("--out-dir", default="runs")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None)
    parser.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE", help="override profile fields")
    parser.add_argument("--allow-slow", action="store_true", help="start even if it would take days on this CPU")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: write NAME=VALUE")
        try:
            overrides[name] = yamlfiles.parse_value(value, f"--set {item}")  # 1e-3 is a number
        except ValueError as error:
            parser.error(str(error))
    try:  # a study profile runs its first seed unless --set seed=N
        config = Profile.load(args.params_dir, args.profile, args.dataset, data_dir=args.data_dir,
                              overrides=overrides).config
    except ValueError as error:
        parser.error(str(error))
    run_experiment(config, args.out_dir, progress_bar=False, allow_slow=args.allow_slow or None)


if __name__ == "__main__":
    main()
