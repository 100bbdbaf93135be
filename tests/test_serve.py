"""`autocomplete serve`: the JSON API, its 4xx errors, the page and the command."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import socket
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_model_dir

from autocomplete.fastpath import export_inference
from autocomplete.serve.app import Limits, create_app, load_engine, load_engines

with warnings.catch_warnings():  # starlette >= 1.x prefers httpx2 for its test client
    warnings.filterwarnings("ignore", message=".*httpx2")
    from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
LECTURE = "Today due to my current job situation and family condition, I"
URL = "/v1/complete"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """Tiny untrained lstm and gru models with the numpy fast-path export."""
    root = tmp_path_factory.mktemp("serve") / "models"
    for cell in ("gru", "lstm"):
        export_inference(make_model_dir(root / cell, cell))
    return root


@pytest.fixture(scope="module")
def client(models_dir) -> TestClient:
    engines = load_engines(models_dir)
    with TestClient(create_app(engines), raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, body: bytes | str, **headers: str):
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return client.post(URL, content=data,
                       headers={"content-type": "application/json", **headers})


def test_complete_returns_every_field(client):
    r = client.post(URL, json={"text": LECTURE})
    assert r.status_code == 200, r.text
    d = r.json()
    assert isinstance(d["completion"], str) and d["completion"]
    assert isinstance(d["confidence"], float) and 0 < d["confidence"] <= 1
    assert isinstance(d["tokens"], list) and all(isinstance(t, str) for t in d["tokens"])
    assert len(d["token_probs"]) == len(d["tokens"])
    assert isinstance(d["latency_ms"], float) and d["latency_ms"] >= 0
    assert d["cell"] == "lstm"  # model_names.DEFAULT_CELL, served first
    assert d["truncated"] is False and d["suppressed"] is False
    assert r.headers["content-type"].startswith("application/json")


def test_complete_options_and_cells(client):
    d = client.post(URL, json={"text": "thanks for the ", "cell": "gru", "max_words": 1,
                               "beam": 1}).json()
    assert d["cell"] == "gru"
    assert sum(any(ch.isalnum() for ch in t) for t in d["tokens"]) <= 1
    # max_words and beam at their upper limits are accepted
    assert client.post(URL, json={"text": "hi", "max_words": 30, "beam": 16}).status_code == 200


def test_a_partial_word_is_finished_first(client):
    # the tiny vocabulary has one word that starts with "upd": "update"
    d = client.post(URL, json={"text": "Thanks for the Upd", "max_words": 1}).json()
    assert d["completion"].startswith("ate ") and d["continues_word"] is True
    assert d["tokens"][0] == "update" and d["reason"] is None
    # the word being finished is not one of max_words
    assert sum(any(ch.isalnum() for ch in t) for t in d["tokens"]) <= 2
    d = client.post(URL, json={"text": "thanks for the update"}).json()
    assert d["tokens"][0] == "update" and d["continues_word"] is False  # a whole word
    assert d["completion"] and not d["completion"].startswith(" ")
    d = client.post(URL, json={"text": "thanks for the update "}).json()
    assert d["continues_word"] is False and d["completion"]


def test_a_partial_word_that_no_word_starts_with(client):
    r = client.post(URL, json={"text": "Please let me kn"})
    assert r.status_code == 200
    d = r.json()
    assert d["completion"] == "" and d["tokens"] == [] and d["continues_word"] is False
    assert d["suppressed"] is False and d["confidence"] == 0
    assert d["reason"] == "no word in the vocabulary starts with 'kn'"


def test_min_confidence_suppresses(client):
    d = client.post(URL, json={"text": "thanks for the", "min_confidence": 1}).json()
    assert d["suppressed"] is True and d["completion"] == "" and d["tokens"] == []


@pytest.mark.parametrize("beam", [None, 4])
def test_trim_gives_a_prefix_of_the_whole_completion(client, beam):
    # without a beam width a trimmed suggestion is searched greedily (beam 1)
    request = {"text": "thanks for the", "max_words": 8, "beam": beam or 1}
    whole = client.post(URL, json=request).json()
    cut = client.post(URL, json={**request, "beam": beam, "trim": True}).json()
    assert 1 <= len(cut["tokens"]) <= len(whole["tokens"])
    assert cut["tokens"] == whole["tokens"][: len(cut["tokens"])]
    assert cut["token_probs"] == pytest.approx(whole["token_probs"][: len(cut["tokens"])])


def test_long_prompt_is_cut_to_the_window(client):
    d = client.post(URL, json={"text": "thanks for the update. " * 20}).json()
    assert d["truncated"] is True  # the tiny models have window 32


@pytest.fixture(scope="module")
def subject_client(tmp_path_factory) -> TestClient:
    """lstm trained without subjects, gru with them (its output layer favours the separator)."""
    from autocomplete.tokens import SUBJECT_SEPARATOR

    root = tmp_path_factory.mktemp("serve-subject") / "models"
    export_inference(make_model_dir(root / "lstm", "lstm"))
    export_inference(make_model_dir(root / "gru", "gru", subject=True, favour=SUBJECT_SEPARATOR))
    with TestClient(create_app(load_engines(root)), raise_server_exceptions=False) as c:
        yield c


def test_a_subject_for_a_model_trained_with_subjects(subject_client):
    assert subject_client.get("/healthz").json()["subjects"] == {"lstm": False, "gru": True}
    answers = {}
    for subject in ("Orion update", "Loan request", None):
        body = {"text": "Hi Mark, thanks for the", "cell": "gru", "beam": 2}
        r = subject_client.post(URL, json=body | ({} if subject is None else {"subject": subject}))
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["subject"] == (subject or "") and d["tokens"]
        assert "xxbody" not in d["tokens"] and "xxbody" not in d["completion"]
        answers[subject] = d["token_probs"]
    assert answers["Orion update"] != answers["Loan request"]  # the model read the subject
    d = subject_client.post(URL, json={"text": "Thanks for the Upd", "cell": "gru",
                                       "subject": "Orion"}).json()
    assert d["tokens"][0] == "update" and d["continues_word"] is True  # the text's fragment
    d = subject_client.post(URL, json={"text": "thanks", "cell": "lstm"}).json()
    assert d["subject"] is None  # read no subject
    r = subject_client.post(URL, json={"text": "thanks", "cell": "lstm", "subject": "Loan"})
    assert r.status_code == 400
    assert r.json()["error"] == "the lstm model was trained without subjects: leave subject out"


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["cells"] == ["lstm", "gru"]
    assert r.json()["backends"] == {"lstm": "numpy", "gru": "numpy"}
    assert r.json()["auth"] is False  # the page asks for a token only when this is true


def test_page(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<textarea id="compose"' in html and 'id="suggestion"' in html
    assert '<input type="text" id="subject"' in html  # shown for a model trained with subjects
    assert "http://" not in html and "https://" not in html  # self-contained: no CDN
    # the Content-Security-Policy allows exactly the page's own inline script
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in r.headers["content-security-policy"]


BAD = [
    ("empty text", {"text": ""}, 422),
    ("blank text", {"text": " \n\t "}, 422),
    ("missing text", {"max_words": 3}, 422),
    ("text null", {"text": None}, 422),
    ("text int", {"text": 5}, 422),
    ("text list", {"text": ["a"]}, 422),
    ("max_words str", {"text": "hi", "max_words": "x"}, 422),
    ("max_words 0", {"text": "hi", "max_words": 0}, 422),
    ("max_words 31", {"text": "hi", "max_words": 31}, 422),
    ("max_words float", {"text": "hi", "max_words": 2.5}, 422),
    ("max_words bool", {"text": "hi", "max_words": True}, 422),
    ("beam -1", {"text": "hi", "beam": -1}, 422),
    ("beam 17", {"text": "hi", "beam": 17}, 422),
    ("beam huge", {"text": "hi", "beam": 10**30}, 422),
    ("unknown cell", {"text": "hi", "cell": "transformer"}, 422),
    ("cell not loaded", {"text": "hi", "cell": "simple_rnn"}, 422),
    ("cell int", {"text": "hi", "cell": 3}, 422),
    ("min_confidence 2", {"text": "hi", "min_confidence": 2}, 422),
    ("min_confidence str", {"text": "hi", "min_confidence": "high"}, 422),
    ("unknown field", {"text": "hi", "max_word": 3}, 422),
    ("trim not a boolean", {"text": "hi", "trim": 1}, 422),
    ("list body", ["text", "hi"], 422),
    ("string body", "hi", 422),
    ("too long", {"text": "a" * 2001}, 422),
    ("subject int", {"text": "hi", "subject": 3}, 422),
    ("subject too long", {"text": "hi", "subject": "a" * 501}, 422),
    ("subject for a cell trained without", {"text": "hi", "subject": "Loan"}, 400),
    ("empty subject for a cell trained without", {"text": "hi", "subject": ""}, 400),
]


@pytest.mark.parametrize("name,body,status", BAD, ids=[b[0] for b in BAD])
def test_bad_json_requests(client, name, body, status):
    r = client.post(URL, json=body)
    assert r.status_code == status, r.text
    assert isinstance(r.json()["error"], str) and r.json()["error"]


@pytest.mark.parametrize("raw", [b"", b"{", b"{'text': 'hi'}", b"text=hi", b"\xff\xfe\xfa",
                                 b'{"text": NaN}', b'{"text": "hi", "beam": Infinity}',
                                 b"[" * 5000 + b"]" * 5000])
def test_invalid_json_is_400(client, raw):
    r = post(client, raw)
    assert r.status_code == 400, r.text
    assert r.json()["error"]


def test_nan_is_named_not_called_bad_utf8(client):
    r = post(client, b'{"text": "hi", "beam": NaN}')
    assert r.status_code == 400 and "NaN is not a JSON value" in r.json()["error"]


def test_deep_nesting_is_named_not_called_bad_utf8(client):
    r = post(client, b"[" * 8000 + b"]" * 8000)
    assert r.status_code == 400 and "nests arrays or objects too deeply" in r.json()["error"]


def test_null_body_is_422(client):
    r = post(client, b"null")
    assert r.status_code == 422 and "object" in r.json()["error"]


def test_huge_body_is_413(client):
    r = client.post(URL, json={"text": "hi " * 10_000})
    assert r.status_code == 413 and "bytes" in r.json()["error"]
    # a chunked body (no Content-Length) is cut off as it streams in
    chunks = (b'{"text": "' if i == 0 else b"x" * 1024 for i in range(40))
    r = client.post(URL, content=chunks, headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_wrong_method_and_path(client):
    r = client.get(URL)
    assert r.status_code == 405 and "POST" in r.json()["error"]
    assert r.headers["allow"] == "POST"
    assert client.put(URL, json={"text": "hi"}).status_code == 405
    assert client.post("/healthz").status_code == 405
    r = client.get("/v2/complete")
    assert r.status_code == 404 and r.json()["error"]


def _junk(rng: random.Random, depth: int = 0):
    """A random JSON-able value: any type, odd strings, nesting."""
    kinds = ["int", "float", "str", "bool", "null", "list", "dict", "bigint"]
    kind = rng.choice(kinds if depth < 3 else kinds[:5])
    if kind == "int":
        return rng.randint(-5, 40)
    if kind == "bigint":
        return rng.choice([-(2**70), 2**64, 10**40])
    if kind == "float":
        return rng.choice([0.5, -1.0, 1e308, 3.0, 1e-300])
    if kind == "str":
        alphabet = ["a", " ", "\n", "\x00", "\ud800", "\u200b", "<", "é", "😀", ".", "'", "lstm"]
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["text", "cell", "beam", "max_words", "min_confidence", "x", ""]):
            _junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_fuzz_never_5xx(client):
    rng = random.Random(0)
    for i in range(60):
        if i % 4 == 0:  # raw bytes
            body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        elif i % 4 == 1:  # a request with every field of a random type
            body = json.dumps({k: _junk(rng) for k in ("text", "max_words", "beam", "cell")})
        elif i % 4 == 2:  # a plausible request with odd text
            body = json.dumps({"text": _junk(rng) if rng.random() < 0.3 else
                               "".join(rng.choice("ab .,'\ud800\x00😀\n") for _ in range(20))})
        else:
            body = json.dumps(_junk(rng))
        r = post(client, body)
        assert r.status_code < 500, (body, r.text)
        d = r.json()
        assert ("error" in d) == (r.status_code >= 400), (body, d)
        if r.status_code == 200:
            assert isinstance(d["completion"], str)


def test_engines_are_thread_safe(models_dir):
    engine = load_engine(models_dir / "lstm")
    prompts = [f"thanks for the {w}" for w in ("update", "loan", "visit", "flight")]
    expected = [engine.complete(p, beam=3).tokens for p in prompts]
    results: list[list[str]] = [[] for _ in range(8)]

    def work(k: int) -> None:
        results[k] = [engine.complete(prompts[(k + j) % 4], beam=3).tokens for j in range(8)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, got in enumerate(results):
        assert got == [expected[(k + j) % 4] for j in range(8)]


def test_concurrent_requests_queue_for_the_workers(models_dir):
    import asyncio

    import httpx

    app = create_app(load_engines(models_dir), limits=Limits(workers=1))

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await asyncio.gather(*(
                c.post(URL, json={"text": f"thanks for the {i}", "cell": ("lstm", "gru")[i % 2]})
                for i in range(24)))

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 24
    assert {r.json()["cell"] for r in responses} == {"lstm", "gru"}


def test_keras_fallback_without_export(tmp_path):
    d = make_model_dir(tmp_path / "simple_rnn", "simple_rnn")
    engines = load_engines(tmp_path, cell="simple_rnn")
    assert engines["simple_rnn"].backend == "keras"
    with TestClient(create_app(engines), raise_server_exceptions=False) as c:
        r = c.post(URL, json={"text": LECTURE, "beam": 2})
    assert r.status_code == 200 and r.json()["cell"] == "simple_rnn"
    assert d.exists()


def test_small_limits(models_dir):
    app = create_app(load_engines(models_dir, cell="gru"), limits=Limits(max_body=64, max_chars=10))
    with TestClient(app) as c:
        assert c.post(URL, json={"text": "x" * 11}).status_code == 422
        assert c.post(URL, json={"text": "y" * 100}).status_code == 413
        assert c.post(URL, json={"text": "thanks"}).status_code == 200


def test_server_does_not_import_tensorflow(models_dir):
    code = textwrap.dedent(f"""
        import sys, warnings
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
        from autocomplete.serve.app import create_app, load_engines
        app = create_app(load_engines({str(models_dir)!r}))
        with TestClient(app) as c:
            assert c.post("/v1/complete", json={{"text": "thanks"}}).status_code == 200
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


# -- the command ---------------------------------------------------------------------
def _serve(*args: str):
    from autocomplete.commands.serve import serve

    # a token in the caller's environment would change what the command accepts
    return CliRunner().invoke(serve, list(args), env={"AUTOCOMPLETE_TOKEN": None})


def test_serve_without_models(tmp_path):
    r = _serve("--models-dir", str(tmp_path))
    assert r.exit_code == 1
    assert "autocomplete train --cell lstm" in r.output


def test_serve_cell_not_trained(models_dir):
    r = _serve("--models-dir", str(models_dir), "--cell", "simple_rnn", "--port", "0")
    assert r.exit_code == 1 and "autocomplete train --cell simple_rnn" in r.output


def test_serve_cell_and_model_conflict(models_dir):
    r = _serve("--cell", "lstm", "--model", str(models_dir / "lstm"))
    assert r.exit_code == 2 and "one of --cell and --model" in r.output


def test_serve_port_in_use(models_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = _serve("--models-dir", str(models_dir), "--port", str(port))
    assert r.exit_code == 1 and "already in use" in r.output and "--port" in r.output


def test_serve_other_address_needs_a_token(models_dir):
    r = _serve("--models-dir", str(models_dir), "--host", "0.0.0.0", "--port", "0")
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert "without a token" in r.output and "AUTOCOMPLETE_TOKEN" in r.output


def test_serve_help_names_the_access_options():
    r = _serve("--help")
    assert r.exit_code == 0
    for option in ("--token", "AUTOCOMPLETE_TOKEN", "--rate-limit", "--burst"):
        assert option in r.output
