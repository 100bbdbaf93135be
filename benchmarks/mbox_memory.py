"""Peak memory of reading a large mbox: does the loader stream, or hold the file?

Writes a synthetic mbox (default 1024 MB; `--mb 200` for a quicker run) of varied messages --
plain, quoted replies, HTML alternatives, base64 attachments, escaped `>From ` lines -- and
reads it in fresh subprocesses, each reporting its own peak RSS (ru_maxrss):

* stream:    `iter_messages` + `CorpusFilter` (cleaning, de-duplication), keeping nothing;
* dataframe: `load_corpus`, which also keeps every cleaned body in a DataFrame, so its peak
  grows with the kept text (not with the mbox, whose quotes/HTML/attachments are dropped);
* mailbox:   the stdlib `mailbox.mbox`, raw bytes of each message only, for comparison.

    python benchmarks/mbox_memory.py --mb 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SYLLABLES = ("ka", "lo", "mi", "ne", "ra", "tu", "shi", "ver", "an", "el", "or", "ip", "stu",
             "den", "bra", "co", "lex", "fin", "ga", "ho", "ju", "pe", "qui", "ro", "sa", "te")
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
COMMON = ("the", "a", "to", "of", "and", "in", "for", "on", "is", "we", "you", "i", "please",
          "will", "can", "this", "that", "with", "meeting", "report", "thanks", "call", "deal")


def _vocab(rng: random.Random, n: int = 6000) -> list[str]:
    words = {"".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))) for _ in range(n * 2)}
    return sorted(words)[:n] + list(COMMON) * 40


def _sentence(rng: random.Random, vocab: list[str]) -> str:
    words = rng.choices(vocab, k=rng.randint(5, 18))
    return " ".join(words).capitalize() + rng.choice((".", ".", ".", "?", "!"))


def _message(rng: random.Random, vocab: list[str], i: int) -> str:
    body = "\n".join(
        " ".join(_sentence(rng, vocab) for _ in range(rng.randint(1, 4)))
        for _ in range(rng.randint(1, 5)))
    if rng.random() < 0.05:
        body += "\nFrom the desk of the manager, " + _sentence(rng, vocab)  # escaped below
    if rng.random() < 0.3:
        quoted = "\n".join("> " + _sentence(rng, vocab) for _ in range(rng.randint(2, 12)))
        body += f"\n\nOn Mon, 3 Jun 2024 at 10:{i % 60:02d}, Someone <s@example.com> wrote:\n"
        body += quoted
    if rng.random() < 0.2:
        body += "\n\n-- \nPat Example\nExample Corp.\n+1 555 0100"
    head = (f"From sender{i % 97}@example.com Mon Jun  3 10:{i % 60:02d}:00 2024\n"
            f"Message-ID: <{i}@example.com>\nDate: Mon, 3 Jun 2024 10:00:00 +0000\n"
            f"From: sender{i % 97}@example.com\nTo: you@example.com\n"
            f"Subject: {_sentence(rng, vocab)[:60]}\nMIME-Version: 1.0\n")
    body = body.replace("\nFrom ", "\n>From ")
    r = rng.random()
    if r < 0.1:  # HTML alternative
        html = "".join(f"<p>{line}</p>" for line in body.split("\n"))
        return (head + 'Content-Type: multipart/alternative; boundary="b1"\n\n--b1\n'
                "Content-Type: text/html; charset=utf-8\n\n"
                f"<html><body>{html}</body></html>\n--b1--\n\n")
    if r < 0.15:  # attachment
        blob = "".join(rng.choices(B64, k=76 * rng.randint(50, 400)))
        lines = "\n".join(blob[j:j + 76] for j in range(0, len(blob), 76))
        return (head + 'Content-Type: multipart/mixed; boundary="b2"\n\n--b2\n'
                "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n--b2\n"
                'Content-Type: application/pdf; name="x.pdf"\nContent-Transfer-Encoding: base64\n'
                'Content-Disposition: attachment; filename="x.pdf"\n\n' + lines + "\n--b2--\n\n")
    return head + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n\n"


def write_mbox(path: Path, mb: float, seed: int = 0) -> int:
    """Write about `mb` MB of synthetic mail to `path`; returns the number of messages."""
    rng = random.Random(seed)
    vocab = _vocab(rng)
    target = int(mb * 1024 * 1024)
    n = written = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        while written < target:
            chunk = "".join(_message(rng, vocab, n + k) for k in range(200))
            f.write(chunk)
            written += len(chunk.encode("utf-8"))
            n += 200
    return n


def _peak_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def measure(mode: str, path: str) -> dict:
    """Run one reader over `path` in this process; returns counts, seconds, peak RSS."""
    import pandas  # noqa: F401 - count the import in the baseline, as the loader needs it

    from autocomplete.corpus.cleaning import CleaningSummary, CorpusFilter
    from autocomplete.corpus.loaders import iter_messages, load_corpus

    base = _peak_mb()
    start = time.perf_counter()
    messages = kept = 0
    if mode == "stream":
        summary = CleaningSummary()
        keep = CorpusFilter(summary)
        for msg in iter_messages(path, summary=summary):
            messages += 1
            if msg.problem is None:
                kept += keep.accept(msg.body) is not None
    elif mode == "dataframe":
        df, summary = load_corpus(path, progress=False)
        messages, kept = summary.messages, len(df)
    else:
        import mailbox

        box = mailbox.mbox(path, create=False)
        for key in box.iterkeys():
            box.get_bytes(key)
            messages += 1
    return {"mode": mode, "messages": messages, "kept": kept,
            "seconds": time.perf_counter() - start, "base_mb": base, "peak_mb": _peak_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=1024, help="mbox size in MB (default 1024)")
    ap.add_argument("--dir", default=None, help="where to write the mbox (default: a temp dir)")
    ap.add_argument("--modes", default="stream,dataframe,mailbox",
                    help="comma-separated: stream, dataframe, mailbox")
    ap.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "synthetic.mbox"
        t0 = time.perf_counter()
        n = write_mbox(path, args.mb)
        size = os.path.getsize(path) / 1024 / 1024
        print(f"wrote {path.name}: {size:,.0f} MB, {n:,} messages in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        rows = []
        for mode in args.modes.split(","):
            out = subprocess.run([sys.executable, __file__, "--measure", mode, str(path)],
                                 check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  {mode}: done", flush=True)
    print()
    print(f"{'reader':<10} {'mbox MB':>8} {'messages':>9} {'kept':>8} {'seconds':>8} "
          f"{'MB/s':>6} {'RSS after import':>17} {'peak RSS':>9}")
    for r in rows:
        print(f"{r['mode']:<10} {size:>8,.0f} {r['messages']:>9,} {r['kept']:>8,} "
              f"{r['seconds']:>8.1f} {size / r['seconds']:>6.1f} {r['base_mb']:>14.0f} MB "
              f"{r['peak_mb']:>6.0f} MB")


if __name__ == "__main__":
    main()
