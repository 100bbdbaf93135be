"""Load test of `autocomplete serve`: concurrent clients on loopback, zero errors.

Starts the server in a subprocess on 127.0.0.1 (a free port) with models/lstm
when it is trained, else a random-weight LSTM (5,000-token vocabulary, 256
units, exported to the numpy fast path) in a temporary directory. Then
--clients concurrent clients (asyncio + httpx, one keep-alive connection
each) POST 30-word prompts for --seconds and the table shows requests,
errors, requests/s and client-side p50/p99 latency (plus the server's own
p50 `latency_ms`). Exits 1 on any error. Clients and server share the
machine's cores, so the figures are a floor.

    python benchmarks/serve_load.py [--seconds 30] [--clients 32] [--model models/lstm]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latency import random_model_dir  # noqa: E402  (the sibling benchmark's model maker)

HOST = "127.0.0.1"  # loopback only


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("AUTOCOMPLETE_TOKEN", None)  # loopback needs no token
    # every simulated client comes from 127.0.0.1: the per-client rate limit is off here
    cmd = [sys.executable, "-m", "autocomplete", "serve", "--model", str(model_dir),
           "--host", HOST, "--port", str(port), "--rate-limit", "0"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}):\n{proc.stdout.read()}")
        try:
            return httpx.get(url + "/healthz", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer /healthz in time")


def prompts(model_dir: Path, n: int, words: int, seed: int = 0) -> list[str]:
    """`n` prompts of `words` words drawn from the model's vocabulary."""
    from autocomplete.artifacts import read_vocab

    vocab = [t for t in read_vocab(model_dir)[3:] if t.isalpha()] or ["hello"]
    rng = random.Random(seed)
    return [" ".join(rng.choice(vocab) for _ in range(words)) for _ in range(n)]


async def load(url: str, texts: list[str], clients: int, seconds: float, body: dict) -> dict:
    latencies: list[float] = []
    server_ms: list[float] = []
    tokens: list[int] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        async def one_client(k: int) -> None:
            rng = random.Random(k)
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/complete", json={"text": rng.choice(texts), **body})
                except httpx.HTTPError as e:
                    errors.append(f"{type(e).__name__}: {e}")
                    continue
                latencies.append((time.perf_counter() - t0) * 1e3)
                if r.status_code != 200:
                    errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                    continue
                d = r.json()
                server_ms.append(d["latency_ms"])
                tokens.append(len(d["tokens"]))

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client(k) for k in range(clients)))
        wall = time.perf_counter() - t0
    return {"latencies": latencies, "server_ms": server_ms, "tokens": tokens,
            "errors": errors, "wall": wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--words", type=int, default=30, help="words per prompt")
    ap.add_argument("--max-words", type=int, default=12, help="max_words of each request")
    ap.add_argument("--beam", type=int, default=4, help="beam of each request")
    ap.add_argument("--model", type=Path, default=None,
                    help="model directory (default: models/lstm if trained, else random)")
    args = ap.parse_args()

    from autocomplete.artifacts import ModelDirError, check_model_dir

    tmp = tempfile.TemporaryDirectory()
    model_dir = args.model
    if model_dir is None:
        try:
            model_dir = check_model_dir(ROOT / "models" / "lstm")
        except ModelDirError:
            print("models/lstm is not trained: using a random-weight LSTM "
                  "(vocabulary 5,000, 256 units)")
            model_dir = random_model_dir(Path(tmp.name) / "lstm")
    port = free_port()
    url = f"http://{HOST}:{port}"
    proc = start_server(model_dir, port)
    try:
        health = wait_ready(url, proc)
        texts = prompts(model_dir, 500, args.words)
        body = {"max_words": args.max_words, "beam": args.beam}
        print(f"server: {url}  model: {model_dir}  backend: {health['backends']}  "
              f"cores: {os.cpu_count()}")
        print(f"load: {args.clients} clients x {args.seconds:g} s, {args.words}-word prompts, "
              f"beam {args.beam}, max_words {args.max_words}")
        asyncio.run(load(url, texts, min(args.clients, 4), 2.0, body))  # warm-up
        res = asyncio.run(load(url, texts, args.clients, args.seconds, body))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        tmp.cleanup()

    lat = np.array(res["latencies"]) if res["latencies"] else np.zeros(1)
    n, errors = len(res["latencies"]), len(res["errors"])
    rows = [
        ("requests", f"{n}"),
        ("errors", f"{errors}"),
        ("requests/s", f"{n / res['wall']:.1f}"),
        ("p50 latency ms", f"{np.percentile(lat, 50):.1f}"),
        ("p99 latency ms", f"{np.percentile(lat, 99):.1f}"),
        ("server p50 latency_ms", f"{np.median(res['server_ms'] or [0]):.1f}"),
        ("tokens per completion", f"{np.mean(res['tokens'] or [0]):.1f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v:>10}" for k, v in rows))
    for e in res["errors"][:5]:
        print("error:", e)
    assert errors == 0, f"{errors} failed requests"
    return 0


if __name__ == "__main__":
    sys.exit(main())
