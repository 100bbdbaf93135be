"""A model trained on someone's mail holds their language: who may reach it.

`serve` listens on loopback unless given a token; with one, the API needs
`Authorization: Bearer <token>`; without one, only requests addressed to a
loopback name are answered; each client is rate-limited; prompts never reach
a log; model directories are private to their owner. No test here binds a
port: `bind` and uvicorn's `Server.run` are replaced where the command would
reach them.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_model_dir

from autocomplete import artifacts
from autocomplete.fastpath import export_inference
from autocomplete.serve.app import create_app, load_engines
from autocomplete.serve.guard import (
    ACCESS_LOGGER,
    DropQueryStrings,
    RateLimiter,
    bearer_matches,
    client_key,
    host_header_name,
    is_loopback_name,
    quiet_access_log,
)

with warnings.catch_warnings():  # starlette >= 1.x prefers httpx2 for its test client
    warnings.filterwarnings("ignore", message=".*httpx2")
    from starlette.testclient import TestClient

URL = "/v1/complete"
TOKEN = "k3Jq-9xVb_2LmNp8RtZs4WcY"
SECRET = "thanks for the quixotic zebrafish invoice"  # words no log line may hold
TOKEN_ENV = "AUTOCOMPLETE_TOKEN"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("privacy") / "models"
    export_inference(make_model_dir(root / "lstm", "lstm"))
    return root


@pytest.fixture(scope="module")
def engines(models_dir):
    return load_engines(models_dir)


def _client(app, **kw) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, **kw)


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the command: where it listens -----------------------------------------------------
class FakeSocket:
    """What `bind` returns, without binding anything."""

    def __init__(self, addr: str, port: int = 8000):
        self.addr, self.port, self.closed = addr, port, False

    def getsockname(self):
        return (self.addr, self.port)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def command(monkeypatch):
    """Run `serve` with `bind` and uvicorn faked: returns (result, record of what ran)."""
    import uvicorn

    import autocomplete.commands.serve as serve_module
    import autocomplete.serve.app as app_module

    seen: dict = {}

    def fake_bind(host: str, port: int):
        seen["binds"].append((host, port))
        addr = seen["bound_addr"] or ("127.0.0.1" if host == "localhost" else host)
        seen["socket"] = FakeSocket(addr, port)
        return seen["socket"]

    def fake_run(self, sockets=None):
        seen["app"], seen["sockets"], seen["config"] = self.config.app, sockets, self.config

    real_create_app = app_module.create_app

    def recording_create_app(*args, **kw):
        seen["create_app"] = kw
        return real_create_app(*args, **kw)

    monkeypatch.setattr(serve_module, "bind", fake_bind)
    # uvicorn's dictConfig would close every logging handler, pytest's own included
    monkeypatch.setattr(uvicorn.Config, "configure_logging", lambda self: None)
    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    monkeypatch.setattr(app_module, "create_app", recording_create_app)

    def invoke(*args: str, env: dict[str, str | None] | None = None,
               bound_addr: str | None = None):
        seen.clear()
        seen.update(binds=[], bound_addr=bound_addr)
        result = CliRunner().invoke(serve_module.serve, list(args),
                                    env={TOKEN_ENV: None, **(env or {})})
        return result, seen

    return invoke


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.7", "example.com",
                                  "myhost.local", ""])
def test_non_loopback_without_token_is_refused_before_binding(command, models_dir, host):
    r, seen = command("--host", host, "--models-dir", str(models_dir))
    assert r.exit_code in (1, 2)
    assert r.exception is None or isinstance(r.exception, SystemExit)  # no traceback
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert "without a token" in lines[0] and "--token" in lines[0]
    assert TOKEN_ENV in lines[0] and "127.0.0.1" in lines[0]
    assert seen["binds"] == [] and "app" not in seen


def test_default_host_is_loopback(command, models_dir):
    r, seen = command("--models-dir", str(models_dir))
    assert r.exit_code == 0, r.output
    assert seen["binds"] == [("127.0.0.1", 8000)]
    assert seen["create_app"]["token"] is None and seen["create_app"]["loopback_only"] is True
    assert "app" in seen


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_loopback_hosts_need_no_token(command, models_dir, host):
    r, seen = command("--host", host, "--models-dir", str(models_dir))
    assert r.exit_code == 0, r.output
    assert seen["binds"] == [(host, 8000)] and "app" in seen


def test_loopback_name_that_resolves_elsewhere_is_refused(command, models_dir):
    # `localhost` pointing at a LAN address (/etc/hosts): refused once the address is known
    r, seen = command("--host", "localhost", "--models-dir", str(models_dir),
                      bound_addr="192.168.1.5")
    assert r.exit_code == 1 and seen["socket"].closed and "app" not in seen
    assert "without a token" in r.output and "192.168.1.5" in r.output


def test_token_from_environment_opens_other_addresses(command, models_dir):
    r, seen = command("--host", "0.0.0.0", "--models-dir", str(models_dir),
                      env={TOKEN_ENV: TOKEN})
    assert r.exit_code == 0, r.output
    assert TOKEN not in r.output  # never echoed
    assert "Authorization: Bearer" in r.output and "warning: listening on 0.0.0.0" in r.output
    assert seen["create_app"]["token"] == TOKEN
    assert seen["create_app"]["loopback_only"] is False
    assert any(isinstance(f, DropQueryStrings) for f in logging.getLogger(ACCESS_LOGGER).filters)
    with _client(seen["app"]) as c:
        r = c.post(URL, json={"text": "thanks for the"})
        assert r.status_code == 401 and r.json()["error"]
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert c.post(URL, json={"text": "thanks for the"},
                      headers=_bearer()).status_code == 200
        assert c.get("/healthz").json()["auth"] is True


def test_token_option_and_short_tokens(command, models_dir):
    r, seen = command("--host", "::", "--token", TOKEN, "--models-dir", str(models_dir))
    assert r.exit_code == 0, r.output
    assert seen["create_app"]["token"] == TOKEN
    for bad in ("short", "has a space in it, long enough", "ünïcödé-token-long-enough"):
        r, _ = command("--host", "0.0.0.0", "--token", bad, "--models-dir", str(models_dir))
        assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
        assert "--token" in r.output and bad not in r.output


def test_rate_limit_options(command, models_dir):
    _, seen = command("--models-dir", str(models_dir))
    limiter = seen["create_app"]["rate_limit"]
    assert (limiter.rate, limiter.burst) == (20, 40)
    _, seen = command("--models-dir", str(models_dir), "--rate-limit", "5", "--burst", "7")
    assert (seen["create_app"]["rate_limit"].rate, seen["create_app"]["rate_limit"].burst) == (5, 7)
    _, seen = command("--models-dir", str(models_dir), "--rate-limit", "0")
    assert seen["create_app"]["rate_limit"] is None


def test_access_log_option_logs_paths(command, models_dir):
    logger = logging.getLogger(ACCESS_LOGGER)
    level = logger.level
    try:
        r, _ = command("--models-dir", str(models_dir), "--access-log")
        assert r.exit_code == 0, r.output
        assert logger.getEffectiveLevel() <= logging.INFO  # uvicorn's access lines are INFO
        assert any(isinstance(f, DropQueryStrings) for f in logger.filters)
    finally:
        logger.setLevel(level)


def test_readable_model_dir_is_pointed_out(command, tmp_path):
    d = make_model_dir(tmp_path / "lstm", "lstm")
    export_inference(d)
    d.chmod(0o755)
    r, _ = command("--model", str(d))
    assert r.exit_code == 0 and "chmod -R go=" in r.output
    d.chmod(0o700)
    r, _ = command("--model", str(d))
    assert r.exit_code == 0 and "chmod" not in r.output


# -- the token -------------------------------------------------------------------------
def test_token_guards_the_api(engines):
    with _client(create_app(engines, token=TOKEN)) as c:
        r = c.post(URL, json={"text": "thanks for the"})
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["error"]
        for wrong in (_bearer(TOKEN[:-1] + "x"), _bearer(TOKEN + "x"), _bearer(""),
                      {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"},
                      {"Authorization": f"Bearer {TOKEN}\xe9".encode("latin-1")}):
            r = c.post(URL, json={"text": "thanks for the"}, headers=wrong)
            assert r.status_code == 401, wrong
            assert r.json()["error"] and TOKEN not in r.text
        ok = c.post(URL, json={"text": "thanks for the"}, headers=_bearer())
        assert ok.status_code == 200 and isinstance(ok.json()["completion"], str)
        assert c.post(URL, json={"text": "hi"},
                      headers={"Authorization": f"bearer  {TOKEN} "}).status_code == 200
        # the page and /healthz stay open: the page asks for the token, /healthz names cells
        assert c.get("/").status_code == 200
        assert c.get("/healthz").json()["auth"] is True
        # every other path needs the token first: no probing for what exists
        assert c.get("/v2/anything").status_code == 401
        assert c.get("/v2/anything", headers=_bearer()).status_code == 404


def test_create_app_rejects_a_weak_token(engines):
    with pytest.raises(ValueError, match="at least 16"):
        create_app(engines, token="hunter2")


def test_bearer_matches():
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN)
    assert bearer_matches(f"BEARER {TOKEN}", TOKEN)
    assert not bearer_matches(None, TOKEN)
    assert not bearer_matches("Bearer", TOKEN)
    assert not bearer_matches(f"Token {TOKEN}", TOKEN)
    assert not bearer_matches("Bearer \xff\xfe", TOKEN)


def test_page_sends_the_token_and_keeps_it_out_of_urls():
    html = (Path(artifacts.__file__).parent / "serve" / "static" / "index.html").read_text()
    assert '"Bearer " + token' in html and "sessionStorage" in html
    assert "location.hash" in html and "?token=" not in html  # a fragment never reaches logs


# -- DNS rebinding: no token, loopback names only ----------------------------------------
def test_without_token_only_loopback_host_headers(engines):
    with _client(create_app(engines, loopback_only=True)) as c:
        for host in ("127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000",
                     "app.localhost:80", "127.0.0.1"):
            assert c.get("/healthz", headers={"host": host}).status_code == 200, host
            assert c.post(URL, json={"text": "hi"}, headers={"host": host}).status_code == 200
        for host in ("evil.example:8000", "testserver", "192.168.1.5:8000", "[2001:db8::1]"):
            r = c.post(URL, json={"text": "hi"}, headers={"host": host})
            assert r.status_code == 403 and "loopback" in r.json()["error"], host
            assert c.get("/", headers={"host": host}).status_code == 403


def test_host_names():
    assert [host_header_name(h) for h in ("a:1", "[::1]:80", "[::1]", "::1", "b")] == \
        ["a", "::1", "::1", "::1", "b"]
    assert all(map(is_loopback_name, ["localhost", "localhost.", "x.localhost", "127.0.0.1",
                                      "127.9.9.9", "::1"]))
    assert not any(map(is_loopback_name, ["0.0.0.0", "::", "", "10.0.0.1", "example.com",
                                          "localhost.example.com", "[::1]"]))


# -- rate limit ------------------------------------------------------------------------
def test_rate_limit_answers_429_after_the_burst(engines):
    app = create_app(engines, token=TOKEN, rate_limit=RateLimiter(rate=0.2, burst=3))
    with _client(app) as c:
        codes = [c.post(URL, json={"text": "hi"}, headers=_bearer()).status_code
                 for _ in range(3)]
        assert codes == [200] * 3
        r = c.post(URL, json={"text": "hi"}, headers=_bearer())
        assert r.status_code == 429 and "retry" in r.json()["error"]
        assert r.headers["retry-after"].isdigit() and 1 <= int(r.headers["retry-after"]) <= 5
        # unauthenticated guesses are limited too; the page and /healthz are not
        assert c.post(URL, json={"text": "hi"}).status_code == 429
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200


def test_rate_limit_is_per_client(engines):
    import asyncio

    import httpx

    app = create_app(engines, rate_limit=RateLimiter(rate=0.1, burst=2))

    async def run(client: tuple[str, int]) -> list[int]:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return [(await c.post(URL, json={"text": "hi"})).status_code for _ in range(3)]

    assert asyncio.run(run(("10.0.0.1", 1000))) == [200, 200, 429]
    assert asyncio.run(run(("10.0.0.2", 1000))) == [200, 200, 429]
    assert asyncio.run(run(("10.0.0.1", 2000))) == [429] * 3  # same address, other port


def test_token_bucket_refills_and_forgets():
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=4, max_clients=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(4)] == [0.0] * 4
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] += 0.5  # one request's worth
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0
    for i in range(10):  # many clients: memory stays bounded
        limiter.take(f"c{i}")
    assert len(limiter) <= 3
    now[0] += 100  # everyone refilled: forgotten as they come up
    for _ in range(5):
        limiter.take("z")
    assert len(limiter) <= 2
    assert RateLimiter(rate=20).burst == 40
    with pytest.raises(ValueError):
        RateLimiter(rate=0)


def test_client_key():
    assert client_key({"client": ("10.1.2.3", 5)}) == "10.1.2.3"
    assert client_key({"client": ("2001:db8:1:2:aaaa::1", 5)}) == \
        client_key({"client": ("2001:db8:1:2:bbbb::9", 6)}) == "2001:db8:1:2::/64"
    assert client_key({"client": ("::ffff:10.1.2.3", 5)}) == "10.1.2.3"
    assert client_key({"client": None}) == ""
    assert client_key({"client": ("testclient", 50000)}) == "testclient"


# -- logs ----------------------------------------------------------------------------
def test_prompts_never_reach_the_logs(engines, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    app = create_app(engines, token=TOKEN, rate_limit=RateLimiter(rate=100))
    with _client(app) as c:
        ok = c.post(URL, json={"text": SECRET}, headers=_bearer())
        assert ok.status_code == 200
        completion = ok.json()["completion"]
        assert c.post(URL, json={"text": SECRET, "cell": "gru"},
                      headers=_bearer()).status_code == 422
        assert c.post(URL, json={"text": SECRET}).status_code == 401
        assert c.post(URL + "?text=" + SECRET.replace(" ", "+"), json={"text": SECRET},
                      headers=_bearer()).status_code == 200  # a query string is ignored
    # the server's records (httpx and httpcore log the test client's own requests)
    logged = "\n".join(logging.Formatter().format(r) for r in caplog.records
                       if not r.name.startswith(("httpx", "httpcore")))
    out, err = capfd.readouterr()
    for word in ("quixotic", "zebrafish", TOKEN):
        assert word not in logged and word not in out and word not in err
    if len(completion.split()) >= 3:  # long enough not to match a word of a log line by chance
        assert completion.strip() not in logged


def test_an_internal_error_is_logged_without_the_prompt(engines, caplog, capfd, monkeypatch):
    caplog.set_level(logging.DEBUG)
    engine = next(iter(engines.values()))

    def broken(text, **options):
        raise RuntimeError(f"cannot complete {text!r}")

    monkeypatch.setattr(engine, "complete", broken)
    with _client(create_app(engines)) as c:
        r = c.post(URL, json={"text": SECRET})
    assert r.status_code == 500 and "RuntimeError" in r.json()["error"]
    assert "quixotic" not in r.text
    assert "RuntimeError" in caplog.text and "broken" in caplog.text  # type and stack stay
    out, err = capfd.readouterr()
    assert "quixotic" not in caplog.text + out + err


def test_access_log_drops_query_strings():
    quiet_access_log()
    quiet_access_log()  # once is enough: no second filter
    logger = logging.getLogger(ACCESS_LOGGER)
    assert sum(isinstance(f, DropQueryStrings) for f in logger.filters) == 1
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:  # the call uvicorn's HTTP protocols make for each request
        logger.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET",
                    f"/v1/complete?text={SECRET}&token={TOKEN}", "1.1", 405)
        logger.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "POST", "/v1/complete", "1.1",
                    200)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert lines == ['10.0.0.1:5000 - "GET /v1/complete?[withheld] HTTP/1.1" 405',
                     '10.0.0.1:5000 - "POST /v1/complete HTTP/1.1" 200']


# -- model directories -------------------------------------------------------------------
@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_published_model_dir_is_private(tmp_path, umask_022):
    out = tmp_path / "models" / "lstm"
    stage = artifacts.staging_dir(out)
    stage.mkdir(parents=True)  # created by anything, with the umask's 0o755
    for name in artifacts.REQUIRED:
        (stage / name).write_text("x")
    assert _mode(stage) == 0o755
    artifacts.publish(stage, out)
    assert _mode(out) == 0o700 and not stage.exists()
    # republishing over an old model keeps it private too
    stage.mkdir()
    for name in artifacts.REQUIRED:
        (stage / name).write_text("y")
    artifacts.publish(stage, out)
    assert _mode(out) == 0o700 and (out / "vocab.txt").read_text() == "y"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_make_private_dir(tmp_path, umask_022):
    stage = artifacts.make_private_dir(artifacts.staging_dir(tmp_path / "a" / "b" / "lstm"))
    assert stage.is_dir() and _mode(stage) == 0o700
    assert _mode(stage.parent) == 0o755  # parents keep the umask's mode
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o777)
    assert _mode(artifacts.make_private_dir(loose)) == 0o700  # an existing one is tightened
