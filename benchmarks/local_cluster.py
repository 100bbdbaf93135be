"""Run `autocomplete train` as a cluster of worker processes on this machine.

Each worker is `python -m autocomplete train ARGS --strategy multi-worker` with its own
TF_CONFIG naming every worker at 127.0.0.1 on a free port; worker 0 is the chief. The run
ends by itself: when a worker fails the others are killed (they would wait for it forever),
and so are all of them at the time limit. Used by tests/test_multiworker.py and
benchmarks/streaming.py; from the shell:

    python benchmarks/local_cluster.py --workers 2 -- --data prepared/ --out models/mw
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Worker:
    index: int
    returncode: int | None
    output: str  # stdout and stderr together
    seconds: float


class ClusterError(RuntimeError):
    """A worker failed or the cluster ran past its time limit; every worker was stopped."""


def free_ports(n: int) -> list[int]:
    """`n` TCP ports free on 127.0.0.1 now (held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    """The TF_CONFIG of worker `index` in a cluster of workers at 127.0.0.1:`ports`."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def run_workers(train_args: list[str], workers: int = 2, timeout: float = 60.0,
                threads: int | None = None, command: list[str] | None = None) -> list[Worker]:
    """Train with `workers` local worker processes; their results, chief first.

    `threads`: TensorFlow threads per worker (default: the CPUs shared out).
    `command`: what each worker runs instead of `autocomplete train
    train_args --strategy multi-worker`. Raises `ClusterError` (with each
    worker's last output) when a worker exits with an error or the time limit
    passes; no worker outlives the call.
    """
    ports = free_ports(workers)
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="3")
    command = command or [sys.executable, "-m", "autocomplete", "train", *train_args,
                          "--strategy", "multi-worker"]
    with tempfile.TemporaryDirectory() as logs, contextlib.ExitStack() as stack:
        files = [stack.enter_context(open(Path(logs) / f"worker-{i}.log", "w+"))
                 for i in range(workers)]
        started = time.monotonic()
        procs = [subprocess.Popen(command, env=env | {"TF_CONFIG": tf_config(ports, i)},
                                  stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
                 for i, f in enumerate(files)]
        ended: dict[int, float] = {}
        try:
            while len(ended) < workers:
                for i, p in enumerate(procs):
                    if i not in ended and p.poll() is not None:
                        ended[i] = time.monotonic() - started
                failed = [i for i in ended if procs[i].returncode != 0]
                late = time.monotonic() - started > timeout
                if failed or late:
                    raise ClusterError(
                        f"worker {failed[0]} exited with {procs[failed[0]].returncode}"
                        if failed else f"the workers ran past {timeout:.0f} s")
                time.sleep(0.2)
        except (ClusterError, KeyboardInterrupt) as e:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
            tails = "\n".join(f"--- worker {i}:\n{_read(f)[-2000:]}" for i, f in enumerate(files))
            if isinstance(e, KeyboardInterrupt):
                raise
            raise ClusterError(f"{e}; every worker stopped\n{tails}") from None
        return [Worker(i, p.returncode, _read(f), ended[i])
                for i, (p, f) in enumerate(zip(procs, files, strict=True))]


def _read(f) -> str:
    f.flush()
    f.seek(0)
    return f.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads each")
    parser.add_argument("train_args", nargs=argparse.REMAINDER,
                        help="`autocomplete train` options, after --")
    args = parser.parse_args()
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    try:
        results = run_workers(train_args, args.workers, args.timeout, args.threads)
    except ClusterError as e:
        sys.exit(str(e))
    for w in results:
        print(f"--- worker {w.index} ({w.seconds:.1f} s)\n{w.output.strip()}")


if __name__ == "__main__":
    main()
