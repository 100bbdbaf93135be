"""Pictures of the page completing as someone types: the README's screenshot sequence.

Serves a trained model directory (the engine `autocomplete serve` would use:
the blend when `autocomplete tune` has run on it), opens the page in headless
Chromium driven by Playwright (as `tests/test_browser.py` does: Debian's
chromium, nothing downloaded), types each prompt key by key and saves a
picture at the points named below, then after Tab accepts the suggestion.

    python docs/screenshots.py models/gru                 # -> docs/typing_*.png
    python docs/screenshots.py models/gru --out /tmp/shots
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SUGGESTION = "document.getElementById('suggestion').textContent"
# (text typed key by key, picture of the suggestion, picture after Tab or None)
SHOTS = [("Please let me kn", "typing_1_mid_word", "typing_2_accepted"),
         ("Thanks for your he", "typing_3_mid_word", "typing_4_accepted"),
         ("Today due to my current job situation and family condition, I", "typing_5_lecture",
          None)]


def serve(model_dir: Path) -> tuple[str, object]:
    """Start the app on a free loopback port in a thread; returns (url, server)."""
    import uvicorn

    from autocomplete.serve.app import create_app, load_engines

    app = create_app(load_engines(model_dir=model_dir))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/", server


def wait_for_suggestion(page, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not (text := page.evaluate(SUGGESTION)).strip():
        if time.monotonic() > deadline:
            return ""
        page.wait_for_timeout(30)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    url, server = serve(args.model_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 900, "height": 420})
        page.goto(url)
        for typed, shown, accepted in SHOTS:
            page.fill("#compose", "")
            page.click("#compose")
            page.keyboard.type(typed, delay=20)
            suggestion = wait_for_suggestion(page)
            page.screenshot(path=str(args.out / f"{shown}.png"))
            print(f"{shown}.png: {typed!r} + {suggestion!r}")
            if accepted:
                page.keyboard.press("Tab")
                page.wait_for_timeout(300)
                page.screenshot(path=str(args.out / f"{accepted}.png"))
                print(f"{accepted}.png: {page.input_value('#compose')!r}")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
