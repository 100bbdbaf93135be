"""The page in a real browser: headless Chromium (Debian's) driven by Playwright.

Skips, saying why, when Playwright or /usr/bin/chromium is missing (`.ci/run`
installs Debian's chromium; never `playwright install`: it downloads). Set
SERVE_SCREENSHOT=/tmp/serve_page.png to keep a picture of the page.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import make_model_dir

LECTURE = "Today due to my current job situation and family condition, I"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
SUGGESTION = "document.getElementById('suggestion').textContent"


def wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression until truthy (page.wait_for_function evals strings: the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(30)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    """The real server (uvicorn, in a thread) on a free loopback port: lstm, and gru trained
    with subjects."""
    uvicorn = pytest.importorskip("uvicorn")
    from autocomplete.fastpath import export_inference
    from autocomplete.serve.app import create_app, load_engines

    root = tmp_path_factory.mktemp("browser") / "models"
    export_inference(make_model_dir(root / "lstm", "lstm"))
    export_inference(make_model_dir(root / "gru", "gru", subject=True))
    app = create_app(load_engines(root))  # no min_confidence: the untrained model still suggests
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def page(request, tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    server_url = request.getfixturevalue("server_url")  # only once a browser can run
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        try:  # a fresh --user-data-dir: Playwright passes the profile directory itself
            context = p.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
                viewport={"width": 900, "height": 640})
        except Exception as e:  # a Chromium that cannot start here (libraries, sandbox)
            pytest.skip(f"Chromium does not start: {str(e).splitlines()[0]}")
        pg = context.new_page()
        pg.set_default_timeout(10_000)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
        pg.goto(server_url)
        wait_until(pg, "document.querySelectorAll('#cell option').length === 2")
        yield pg
        context.close()
        assert not errors, errors  # no script errors, no CSP violations


def test_suggestion_appears_and_tab_accepts(page):
    page.click("#compose")
    page.keyboard.type(LECTURE)
    wait_until(page, f"{SUGGESTION}.trim().length > 0")
    suggestion = page.evaluate(SUGGESTION)
    assert page.input_value("#compose") == LECTURE
    assert "lstm" in page.text_content("#status")
    if os.environ.get("SERVE_SCREENSHOT"):
        page.screenshot(path=os.environ["SERVE_SCREENSHOT"])
    page.keyboard.press("Tab")
    value = page.input_value("#compose")
    assert value == LECTURE + suggestion and len(value) > len(LECTURE)
    assert page.evaluate("document.activeElement.id") == "compose"  # Tab did not move focus


def test_escape_dismisses_and_typing_asks_again(page):
    page.fill("#compose", "")
    page.click("#compose")
    page.keyboard.type("Thanks for the")
    wait_until(page, f"{SUGGESTION}.trim().length > 0")
    page.keyboard.press("Escape")
    assert page.evaluate(SUGGESTION) == ""
    page.wait_for_timeout(400)  # a dismissed suggestion does not come back by itself
    assert page.evaluate(SUGGESTION) == ""
    page.keyboard.type(" update")
    wait_until(page, f"{SUGGESTION}.trim().length > 0")
    assert page.input_value("#compose") == "Thanks for the update"


def test_a_partial_word_is_finished_in_place(page):
    page.fill("#compose", "")
    page.click("#compose")
    page.keyboard.type("Thanks for the Upd")  # "update" is the one tiny-vocabulary word
    wait_until(page, f"{SUGGESTION}.startsWith('ate')")  # no space before the rest
    suggestion = page.evaluate(SUGGESTION)
    page.keyboard.press("Tab")
    value = page.input_value("#compose")
    assert value == "Thanks for the Upd" + suggestion
    assert value == "Thanks for the Update" or value.startswith("Thanks for the Update ")


def test_compare_all_cells(page, tmp_path):
    page.check("#all")
    page.fill("#compose", "")
    page.click("#compose")
    page.keyboard.type("Hi Mark, thanks for the")
    wait_until(page, "document.querySelectorAll('#others li').length === 2")
    cells = page.eval_on_selector_all("#others .cell", "els => els.map(e => e.textContent)")
    assert cells == ["lstm", "gru"]
    page.select_option("#cell", "gru")
    wait_until(page, "document.getElementById('status').textContent.startsWith('gru')")
    if os.environ.get("SERVE_SCREENSHOT"):
        shot = Path(os.environ["SERVE_SCREENSHOT"])
        page.screenshot(path=str(shot.with_name(shot.stem + "_compare" + shot.suffix)))


def test_the_subject_field_goes_with_a_model_trained_with_subjects(page):
    sent: list[dict] = []

    def keep(request) -> None:
        if request.method == "POST":
            sent.append(json.loads(request.post_data))

    def wait_for(condition, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; sent: {sent[-4:]}")
            page.wait_for_timeout(30)

    page.on("request", keep)
    page.uncheck("#all")
    page.select_option("#cell", "lstm")
    assert page.is_hidden("#subject") and page.is_disabled("#subject")
    page.select_option("#cell", "gru")
    assert page.is_visible("#subject") and page.is_enabled("#subject")
    page.fill("#compose", "")
    page.click("#subject")
    page.keyboard.type("Orion update")
    page.keyboard.press("Enter")  # on to the body
    assert page.evaluate("document.activeElement.id") == "compose"
    page.keyboard.type("Hi Mark, thanks for the")
    wait_until(page, f"{SUGGESTION}.trim().length > 0")
    assert "gru" in page.text_content("#status")
    wait_for(lambda: sent[-1]["text"] == "Hi Mark, thanks for the")
    assert sent[-1] == {"text": "Hi Mark, thanks for the", "cell": "gru", "max_words": 10,
                        "trim": True, "subject": "Orion update"}
    before = len(sent)
    page.check("#all")  # every cell: the subject goes only to the one trained with subjects
    wait_for(lambda: len(sent) >= before + 3)  # lstm and gru, and gru for the grey text
    wait_until(page, "document.querySelectorAll('#others li').length === 2")
    assert "error" not in page.text_content("#others")
    by_cell = {r["cell"]: r for r in sent[before:]}
    assert by_cell["gru"]["subject"] == "Orion update" and "subject" not in by_cell["lstm"]
    page.uncheck("#all")
    page.select_option("#cell", "lstm")
    assert page.is_hidden("#subject")
    wait_for(lambda: sent[-1]["cell"] == "lstm")
    assert "subject" not in sent[-1]
    page.remove_listener("request", keep)
