"""Overhead of the GradientStats callback on training time.

Trains the same model on the same synthetic windows for the same number of
steps with and without the callback, alternating the order each repetition
after a warm-up that traces every function, and prints a table:

    python benchmarks/grad_overhead.py                       # LSTM 256, vocab 5000, window 256
    python benchmarks/grad_overhead.py --window 64 --steps 40  # a quick run

Both variants carry `TerminateOnNaN`, as `autocomplete train` does, so the
difference is the callback's own work (sample-batch gradients every `every`
steps, plus at the epoch end a record, the gradient flow on the probe and the
CSV append). Each timed fit is one epoch, so the epoch-end work is charged
to `--steps` steps; a longer real epoch dilutes it.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> None:
    import keras
    import tensorflow as tf

    from autocomplete.callbacks.gradient_stats import DEFAULT_EVERY, GradientStats
    from autocomplete.model import build_model, compile_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", default="lstm")
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--vocab", type=int, default=5000)
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=100, help="steps per timed fit")
    p.add_argument("--every", default=str(DEFAULT_EVERY),
                   help="recording interval(s), comma-separated: one variant each")
    p.add_argument("--reps", type=int, default=2, help="timed fits per variant")
    p.add_argument("--probe", type=int, default=16, help="probe rows (0: no gradient flow)")
    args = p.parse_args(argv)
    everies = [int(e) for e in args.every.split(",")]

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ranks = np.arange(1, args.vocab - 2)
    zipf = (1 / ranks) / (1 / ranks).sum()  # word frequencies, roughly
    seq = (3 + rng.choice(len(ranks), p=zipf, size=(args.batch * 8, args.window + 1)))
    seq = seq.astype("int32")
    x, y = seq[:, :-1], seq[:, 1:]
    w = np.ones_like(y, dtype="float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).repeat().batch(args.batch).prefetch(2)
    sample = (x[: args.batch], y[: args.batch], w[: args.batch])
    probe = x[: args.probe] if args.probe else None

    model = build_model(args.cell, args.vocab, units=args.units)
    compile_model(model)
    out = Path(tempfile.mkdtemp(prefix="grad_overhead_"))
    callbacks = {0: None} | {
        e: GradientStats(sample, probe=probe, every=e, log_dir=out / str(e), verbose=0)
        for e in everies
    }

    def run(every: int, steps: int) -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process) of one fit."""
        cbs = [keras.callbacks.TerminateOnNaN()] + ([callbacks[every]] if every else [])
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(ds, epochs=1, steps_per_epoch=steps, callbacks=cbs, verbose=0)
        return time.perf_counter() - wall, time.process_time() - cpu

    devices = [d.device_type for d in tf.config.list_logical_devices()]
    print(f"{args.cell} units={args.units} vocab={args.vocab} window={args.window} "
          f"batch={args.batch} steps/fit={args.steps} probe={args.probe} devices={devices}",
          flush=True)
    for every in callbacks:  # warm-up: trace the train step, the callback's functions, the flow
        run(every, max(3, every + 1))

    order = list(callbacks)
    times: dict[int, list[tuple[float, float]]] = {e: [] for e in order}
    for rep in range(args.reps):
        for every in order[rep % len(order):] + order[: rep % len(order)]:
            times[every].append(run(every, args.steps))
            name = f"every={every}" if every else "without"
            wall, cpu = times[every][-1]
            print(f"  rep {rep} {name:10s} {wall:8.2f} s wall {cpu:8.2f} s CPU", flush=True)

    # Breakdown: one record, one flow curve (best of 3: the least disturbed).
    cb = callbacks[everies[0]]
    record = min(_timed(cb.measure, *sample) for _ in range(3))
    flow = min(_timed(cb.gradient_flow, probe) for _ in range(3)) if args.probe else 0.0

    wall = {e: np.array([t[0] for t in ts]) for e, ts in times.items()}
    cpu = {e: np.array([t[1] for t in ts]) for e, ts in times.items()}
    base, base_cpu = float(np.median(wall[0])), float(np.median(cpu[0]))
    step = base / args.steps
    print()
    print("Wall time is what training takes but moves with the other load on the machine;")
    print("CPU time (all threads of this process) is steadier on a shared machine.")
    header = ("variant", "steps", "wall s", "overhead", "CPU s", "overhead")
    print("{:>10} {:>6} {:>8} {:>9} {:>8} {:>9}".format(*header))
    for every in order:
        name = f"every={every}" if every else "without"
        w, c = float(np.median(wall[every])), float(np.median(cpu[every]))
        ow = f"{100 * (w - base) / base:8.1f}%" if every else ""
        oc = f"{100 * (c - base_cpu) / base_cpu:8.1f}%" if every else ""
        print(f"{name:>10} {args.steps * len(wall[every]):>6} {w:>8.2f} {ow:>9} {c:>8.2f} {oc:>9}")
    print()
    print(f"one train step {1000 * step:.1f} ms, one record {1000 * record:.1f} ms, "
          f"one flow curve {1000 * flow:.1f} ms")
    for every in everies:
        print(f"expected at every={every}: records {100 * record / (every * step):.1f}% "
              f"+ epoch end {100 * (record + flow) / (args.steps * step):.1f}% "
              f"of a {args.steps}-step epoch")


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
