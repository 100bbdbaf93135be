"""Training from shards: peak memory and tokens/s of `train --data`, and with 1 and 2 workers.

(a) Replicates the cleaned Enron-Spam ham mail of ../shared/corpora `--scale` times (each
copy with its own ids; copies of an email may land in different splits, which matters for
speed and memory, not here for quality), writes it as shards as `prepare --out` does, and
trains from them in a fresh process for `--minutes`, which reports its peak resident memory
(ru_maxrss). The same for the mail once (1x), and for the mail once in memory
(`train --corpus`), so the table shows what grows with the corpus: the held-out windows,
which are read whole, and not the training split, which streams.
(b) Trains one epoch on shards of `--worker-emails` emails with one worker and with two
(benchmarks/local_cluster.py, 127.0.0.1), the CPUs shared out between the workers.

tokens/s counts real (non-padding) training tokens per second of the updates themselves:
the time from one update's end to the next, within epochs, without the first update of each
epoch (tracing, the pipeline filling) and without the held-out scoring at epoch ends. Skips
cleanly when the corpus is absent.

    python benchmarks/streaming.py                 # 10x, 5 minutes a run: about an hour
    python benchmarks/streaming.py --quick         # a check that it runs: a few minutes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CORPUS = ROOT.parent / "shared" / "corpora" / "enron-spam-ham.tar.gz"


def replicate(df, times: int):
    """`df` repeated `times` times, each copy's ids suffixed with its number."""
    import pandas as pd

    return pd.concat([df.assign(id=df["id"] + f"#{k}") for k in range(times)],
                     ignore_index=True)


def child(spec: dict) -> None:
    """Train as `spec` says, in this process; print a JSON line: peak memory, update time."""
    import time

    import keras
    import pandas as pd

    from autocomplete.train import TrainConfig, train

    class Clock(keras.callbacks.Callback):
        """Seconds and count of updates, from one update's end to the next within epochs."""

        def __init__(self):
            super().__init__()
            self.seconds, self.updates, self.last = 0.0, 0, None

        def on_epoch_begin(self, epoch, logs=None):
            self.last = None

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self.last is not None:
                self.seconds, self.updates = self.seconds + now - self.last, self.updates + 1
            self.last = now

    emails = None
    if spec.pop("emails_csv", None):
        emails = pd.read_csv(spec.pop("csv"), keep_default_na=False)
    clock = Clock()
    train(TrainConfig(**spec), verbose=0, emails=emails, callbacks=[clock])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mb": peak_mb, "seconds": clock.seconds, "updates": clock.updates}))


def run_child(spec: dict) -> dict:
    # the allocator the `autocomplete` command sets: the child calls `train` in-process
    env = {"TF_CPU_ALLOCATOR_USE_BFC": "true"} | os.environ
    result = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode:
        sys.exit(f"training failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return last_json(result.stdout)


def last_json(output: str) -> dict:
    """The last JSON line a child printed."""
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def tokens_per_second(run: dict, train_split: dict, batch_size: int) -> float:
    """Real training tokens per second of the updates `run` timed."""
    per_window = train_split["tokens"] / max(train_split["windows"], 1)
    return run["updates"] * batch_size * per_window / max(run["seconds"], 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="copies of the mail in (a)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training cap of (a)")
    parser.add_argument("--worker-emails", type=int, default=2000, help="mail of (b)")
    parser.add_argument("--limit", type=int, default=None, help="emails read from the archive")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true",
                        help="300 emails, 2x, 8 units, 64-token windows: checks that it runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.quick:
        args.scale, args.minutes, args.worker_emails, args.limit = 2, 0.2, 150, 300
        args.units, args.embedding_dim, args.window, args.batch_size = 8, 8, 64, 16
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} is absent (see ../shared/corpora/README.md)")
        return

    from local_cluster import run_workers

    from autocomplete.corpus.loaders import load_corpus
    from autocomplete.shards import write_shards

    df, _ = load_corpus(CORPUS, limit=args.limit, progress=False)
    model = dict(cell="lstm", units=args.units, embedding_dim=args.embedding_dim,
                 window=args.window, batch_size=args.batch_size, grad_stats=False,
                 strategy="one")
    settings = dict(window=args.window, stride=None, max_tokens=8000, seed=0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs = [(f"train --corpus, 1x ({len(df):,} emails)", 1, False),
                (f"train --data, 1x ({len(df):,} emails)", 1, True),
                (f"train --data, {args.scale}x ({args.scale * len(df):,} emails)", args.scale,
                 True)]
        for label, scale, streamed in runs:
            data = tmp / f"x{scale}"
            if not data.exists():
                write_shards(replicate(df, scale), data, **settings)
            split = json.loads((data / "manifest.json").read_text())["splits"]["train"]
            spec = model | {"out": str(tmp / "model"), "time_budget": args.minutes,
                            "epochs": 1000}
            if streamed:
                spec["data"] = str(data)
            else:
                df[["id", "subject", "body"]].to_csv(tmp / "mail.csv", index=False)
                spec |= {"emails_csv": True, "csv": str(tmp / "mail.csv")}
            r = run_child(spec)
            rows.append((label, f"{r['peak_mb']:,.0f}",
                         f"{tokens_per_second(r, split, args.batch_size):,.0f}"))
            print(f"{label}: done", file=sys.stderr)

        small = tmp / "workers"
        write_shards(df.iloc[: args.worker_emails], small, **settings)
        split = json.loads((small / "manifest.json").read_text())["splits"]["train"]
        for workers in (1, 2):
            spec = model | {"data": str(small), "out": str(tmp / f"w{workers}"), "epochs": 1,
                            "strategy": "multi-worker"}
            chief = run_workers([], workers=workers, timeout=3600, command=[
                sys.executable, __file__, "--child", json.dumps(spec)])[0]
            r = last_json(chief.output)
            rows.append((f"{workers} local worker{'s' * (workers > 1)}, 1 epoch of "
                         f"{split['windows']:,} windows", f"{r['peak_mb']:,.0f} (chief)",
                         f"{tokens_per_second(r, split, args.batch_size):,.0f}"))
            print(f"{workers} workers: done", file=sys.stderr)

    print(f"\nLSTM {args.units} units, window {args.window}, batch {args.batch_size}, "
          f"{os.cpu_count()} CPUs; (a) capped at {args.minutes:g} min\n")
    print("| run | peak RSS (MB) | tokens/s |\n| --- | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
