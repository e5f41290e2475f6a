"""Run the GPU queue (params/gpu-queue.yaml) inside one lease's budget; see supermask_lib/study/queue.py.

    python benchmarks/gpu_queue.py [--queue params/gpu-queue.yaml] [--budget-minutes 11] \
        [--runs-dir /tmp/runs] [--store-dir /tmp/queue-store] [--stored results] [--summary SUMMARY.json]

Finished units' small files land in STORE_DIR/<store>/<dataset>/ (results/'s layout) as each finishes; a
unit already stored there or under any --stored folder is skipped; an interrupted one resumes from RUNS_DIR.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from supermask_lib.study import queue  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run a prioritised list of cells inside one lease's budget.")
    parser.add_argument("--queue", default="params/gpu-queue.yaml")
    parser.add_argument("--params-dir", default="params")
    parser.add_argument("--budget-minutes", type=float, default=None, help="default: the queue file's budget")
    parser.add_argument("--runs-dir", default="runs/gpu-queue")
    parser.add_argument("--store-dir", default="runs/gpu-queue-store")
    parser.add_argument("--stored", nargs="*", default=["results"], help="folders of stored results to skip")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None)
    parser.add_argument("--summary", default=None, help="default: STORE_DIR/queue-summary.json")
    args = parser.parse_args(argv)
    plan = queue.load_queue(args.queue, args.params_dir, args.data_dir)
    if args.budget_minutes is not None:
        plan = queue.Queue(plan.path, queue.check_budget(args.budget_minutes, "--budget-minutes"), plan.cells)
    rows = queue.run_queue(plan, args.runs_dir, args.store_dir, tuple(args.stored))
    queue.write_summary(rows, args.summary or Path(args.store_dir) / "queue-summary.json")
    return rows


if __name__ == "__main__":
    main()
