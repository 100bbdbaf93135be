"""The completion web service: JSON API and the Smart-Compose-style page.

    POST /v1/complete  {"text": "...", "max_words": 12, "beam": 4, "cell": "lstm",
                        "subject": "..."}
                       -> {"completion", "continues_word", "confidence", "tokens",
                           "token_probs", "latency_ms", "cell", "engine", "subject",
                           "truncated", "suppressed", "unknown_words", "reason"}
    GET  /healthz      -> {"status": "ok", "cells": [...], "default": "lstm",
                           "subjects": {"lstm": false, ...}, "auth": false}
    GET  /             -> the page (one self-contained HTML file, no CDN)

A cell trained with subjects (`train --subject`; `subjects` in /healthz)
reads the text after the email's subject (`subject`, optional: none is an
email without a subject); the answer's `subject` is the one it read (null for
a cell trained without subjects). A `subject` sent to a cell trained without
subjects is refused with 400, never ignored.

A text that ends inside a word ("Please let me kn") is completed from that
word on (partial words, `autocomplete.decoding`): `completion` starts with
the rest of the word ("ow if you have any questions.") and `continues_word`
is true, so a client adds it with no space; otherwise a client spaces it as
any completion. `reason` says why `completion` is empty, when it is (e.g.
"no word in the vocabulary starts with 'xq'"); null otherwise. Without a
`beam`, the search is the decoder's default: a beam of 4, or greedy for a
`trim`med suggestion (what the page asks for; `decoding_defaults.TRIM_BEAM`).

Access (`autocomplete.serve.guard`): with a token, every path but the page
and /healthz needs `Authorization: Bearer <token>` (401 without); a rate
limit answers 429 with Retry-After; with `loopback_only`, requests not
addressed to a loopback name get 403. Prompts and completions are never
logged: an internal error is logged by exception type and stack only, since
its message may quote the prompt.

Every model is loaded once, before the first request, through
`autocomplete.fastpath.load_step_model` (numpy, no TensorFlow, when the model
directory holds an up-to-date `inference.npz`). A model directory where
`autocomplete tune` wrote a blend answers with it (`autocomplete.blend`)
unless the engine asked for is "neural"; `engine` in the answer says which.
Completions run in worker threads, at most `Limits.workers` at once (the rest
queue), so the event loop keeps answering; `latency_ms` is the server's time
for the request, queueing included. The numpy step model (and a blend around
it) keeps no per-call state and is shared by the threads; the Keras fallback
runs under a lock. For many concurrent requests start the process with one
BLAS thread (`autocomplete serve` does).

Each model's completer keeps the model's states after recent texts, in
memory only (`REMEMBER_MB`, `decoding.Completer`): the page asks after every
keystroke, and a keystroke is then answered from the state of the text
typed before it. The answers are those computed afresh, but their latency
shows whether a text was read recently; where people who share a server
must not learn that of each other's mail, serve with `--remember-mb 0`.

User input never causes a 5xx: every request error is a 4xx with a JSON body
{"error": "one line saying what to fix"}: 400 unreadable JSON or a subject for
a cell trained without subjects, 413 body over
`Limits.max_body` bytes, 422 a field of the wrong type or out of range, an
empty prompt or an unknown cell, 404/405 unknown path or method (401, 403
and 429 come from the guard above).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from autocomplete.artifacts import (
    MODELS_DIR,
    ModelDirError,
    find_models,
    read_config,
    uses_subjects,
)
from autocomplete.decoding import Completer, Completion
from autocomplete.decoding_defaults import MAX_WORDS, REMEMBER_MB
from autocomplete.model_names import DEFAULT_CELL
from autocomplete.serve.guard import Guard, RateLimiter, check_token

log = logging.getLogger("autocomplete.serve")

FIELDS = ("text", "subject", "max_words", "beam", "cell", "min_confidence", "trim")
PAGE = Path(__file__).parent / "static" / "index.html"
_JSON_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               list: "an array", dict: "an object", type(None): "null"}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_body: int = 16 * 1024  # bytes of request body (413 above)
    max_chars: int = 2000  # characters of `text` (422 above; the page sends the tail)
    max_subject_chars: int = 500  # characters of `subject` (422 above)
    max_words: int = 30
    max_beam: int = 16
    default_max_words: int = MAX_WORDS
    default_beam: int | None = None  # None: the decoder's (BEAM; TRIM_BEAM with trim)
    # completions running at once (threads); more queue. Around the core count: the
    # search is partly Python (GIL), so more threads only share the cores more thinly
    workers: int = max(2, os.cpu_count() or 2)


@dataclass
class Engine:
    """One loaded cell: its completer and how it runs."""

    cell: str
    path: Path
    completer: Completer
    backend: str  # "numpy" (fast path) or "keras"
    engine: str = "neural"  # what answers: "neural" or "blend"
    lock: threading.Lock | None = field(default=None, repr=False)

    @property
    def subjects(self) -> bool:
        """Whether the model was trained with subjects (it reads the text after one)."""
        return self.completer.subjects

    def complete(self, text: str, **options: Any) -> Completion:
        with self.lock if self.lock is not None else nullcontext():
            return self.completer.complete(text, **options)


def load_engine(path: str | Path, cell: str | None = None, *, warm_up: bool = True,
                engine: str | None = None, remember_mb: float = REMEMBER_MB) -> Engine:
    """Load one model directory; ModelDirError (one line) when it cannot be served.

    `engine`: "blend", "neural", or None for the blend where the directory holds one.
    `remember_mb`: the completer's memory for the states of texts read (0: none).
    """
    from autocomplete.blend import load_completion_model
    from autocomplete.fastpath import NumpyStepModel

    path = Path(path)
    try:
        model, engine, inner = load_completion_model(path, engine, cell=cell)
        config = read_config(path)
        label = config.get("cell") or cell or path.name
        completer = Completer(model, subjects=uses_subjects(config), remember_mb=remember_mb)
    except (ValueError, KeyError) as e:
        raise ModelDirError(f"cannot serve the model in {path}: {e}") from e
    numpy = isinstance(inner, NumpyStepModel)
    loaded = Engine(str(label), path, completer, "numpy" if numpy else "keras",
                    engine=engine, lock=None if numpy else threading.Lock())
    if warm_up:  # the Keras fallback traces its tf.functions on the first call
        loaded.complete("hello", method="greedy", max_words=1)
    return loaded


def load_engines(
    models_dir: str | Path = MODELS_DIR,
    *,
    cell: str | None = None,
    model_dir: str | Path | None = None,
    on_skip: Callable[[str], None] | None = None,
    warm_up: bool = True,
    engine: str | None = None,
    remember_mb: float = REMEMBER_MB,
) -> dict[str, Engine]:
    """The engines to serve, default cell first.

    `model_dir`: that directory only. `cell`: `models_dir/<cell>` only.
    Neither: every trained cell in `models_dir` (`artifacts.find_models`), the
    default cell (`model_names.DEFAULT_CELL`) first, the others in
    `model_names.CELL_NAMES` order; one that fails to load is reported to
    `on_skip` and left out. Raises ModelDirError when nothing loads.
    `engine` and `remember_mb` as for `load_engine`, for every model.
    """
    every = model_dir is None and cell is None
    engines, errors = [], []
    for name, path in find_models(models_dir, cell=cell, model_dir=model_dir,
                                  first=DEFAULT_CELL):
        try:
            engines.append(load_engine(path, name, warm_up=warm_up, engine=engine,
                                       remember_mb=remember_mb))
        except ModelDirError as e:
            if not every:
                raise
            errors.append(str(e))
            if on_skip is not None:
                on_skip(f"{name}: {e}")
    if not engines:
        raise ModelDirError("; ".join(errors))
    out: dict[str, Engine] = {}
    for engine in engines:
        out.setdefault(engine.cell, engine)
    return out


# -- request parsing ---------------------------------------------------------------
class ApiError(Exception):
    """A request the client must fix: HTTP status and one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Params:
    text: str
    cell: str
    max_words: int
    beam: int | None  # None: the decoder's default
    min_confidence: float | None
    subject: str | None = None  # None: none sent
    trim: bool = False  # cut where the expected characters saved are most


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _short(value: str, n: int = 40) -> str:
    return repr(value if len(value) <= n else value[:n] + "...")


def _int_field(data: Mapping, name: str, default: int | None, hi: int) -> int | None:
    value = data.get(name)
    if value is None:
        return default
    if type(value) is not int or not 1 <= value <= hi:  # bool is not an int here
        what = (value if abs(value) < 10**9 else "a huge number") if type(value) is int \
            else _kind(value)
        raise ApiError(422, f"{name} must be an integer from 1 to {hi}, not {what}")
    return value


class _NotJson(ValueError):
    """NaN or Infinity, which Python's json reads but JSON does not have."""


def _no_constants(name: str) -> None:
    raise _NotJson(f"the request body is not valid JSON: {name} is not a JSON value")


def parse_request(body: bytes, cells: Sequence[str], limits: Limits,
                  min_confidence: float | None = None) -> Params:
    """Validate a /v1/complete body; ApiError (400/422) says what is wrong."""
    example = '{"text": "Thanks for the"}'
    if not body.strip():
        raise ApiError(400, f"the request body is empty: send a JSON object such as {example}")
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise ApiError(400, f"the request body is not valid JSON: {e.msg} at character {e.pos}"
                       ) from None
    except _NotJson as e:
        raise ApiError(400, str(e)) from None
    except RecursionError:
        raise ApiError(400, "the request body nests arrays or objects too deeply") from None
    except ValueError:  # bad UTF-8, or a number of absurdly many digits
        raise ApiError(400, "the request body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"the body must be a JSON object such as {example}, "
                            f"not {_kind(data)}")
    unknown = [k for k in data if k not in FIELDS]
    if unknown:
        raise ApiError(422, f"unknown field {_short(unknown[0])}; the fields are "
                            f"{', '.join(FIELDS)}")
    text = data.get("text")
    if text is None:
        raise ApiError(422, f"text is required: send {example}")
    if not isinstance(text, str):
        raise ApiError(422, f"text must be a string, not {_kind(text)}")
    if not text.strip():
        raise ApiError(422, "text is empty: give some text to complete")
    if len(text) > limits.max_chars:
        raise ApiError(422, f"text is {len(text)} characters long; at most {limits.max_chars} "
                            "are accepted: send the end of the email")
    cell = data.get("cell")
    if cell is None:
        cell = cells[0]
    elif not isinstance(cell, str):
        raise ApiError(422, f"cell must be a string, not {_kind(cell)}")
    elif cell not in cells:
        raise ApiError(422, f"cell {_short(cell)} is not loaded; this server has "
                            f"{', '.join(cells)}")
    subject = data.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise ApiError(422, f"subject must be a string, not {_kind(subject)}")
    if subject is not None and len(subject) > limits.max_subject_chars:
        raise ApiError(422, f"subject is {len(subject)} characters long; at most "
                            f"{limits.max_subject_chars} are accepted")
    mc = data.get("min_confidence", min_confidence)
    if mc is not None and (type(mc) not in (int, float) or not 0 <= mc <= 1):
        raise ApiError(422, f"min_confidence must be a number from 0 to 1, not "
                            f"{str(mc)[:20] if type(mc) in (int, float) else _kind(mc)}")
    trim = data.get("trim", False)
    if not isinstance(trim, bool):
        raise ApiError(422, f"trim must be true or false, not {_kind(trim)}")
    return Params(
        text=text,
        cell=cell,
        max_words=_int_field(data, "max_words", limits.default_max_words, limits.max_words),
        beam=_int_field(data, "beam", limits.default_beam, limits.max_beam),
        min_confidence=None if mc is None else float(mc),
        subject=subject,
        trim=trim,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or ApiError 413 as soon as it passes `limit` bytes."""
    too_big = ApiError(413, f"the request body is over {limit} bytes: send a shorter text")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)


# -- responses -----------------------------------------------------------------------
class _JSON(JSONResponse):
    """JSON as ASCII (safe for any string a client sent), never NaN."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


_API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON error body: {"error": message}."""
    return _JSON({"error": message}, status_code=status,
                 headers={**_API_HEADERS, **(headers or {})})


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def page_response_factory(path: Path = PAGE) -> Callable[[], Response]:
    """The page with a Content-Security-Policy that allows only its own inline code."""
    html = path.read_text(encoding="utf-8")

    def digest(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        hashes = [base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in found]
        return " ".join(f"'sha256-{h}'" for h in hashes) or "'none'"

    csp = (f"default-src 'none'; script-src {digest('script')}; style-src {digest('style')}; "
           "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
           "frame-ancestors 'none'")
    headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
    return lambda: HTMLResponse(html, headers=headers)


# -- the application -----------------------------------------------------------------
def create_app(
    engines: Mapping[str, Engine],
    *,
    limits: Limits = Limits(),
    min_confidence: float | None = None,
    token: str | None = None,
    rate_limit: RateLimiter | None = None,
    loopback_only: bool = False,
) -> Starlette:
    """The Starlette app serving `engines` (the first one is the default cell).

    `min_confidence` is the default of the request field of that name: below
    it the completion comes back empty (`suppressed: true`). `token`: the
    bearer token every path but / and /healthz requires (`guard.check_token`
    says which tokens are accepted). `rate_limit`: per-client limit on those
    paths. `loopback_only`: answer only requests whose Host is a loopback
    name, against DNS rebinding when there is no token. All three are off by
    default here; `autocomplete serve` turns on what its options ask for.
    """
    if not engines:
        raise ValueError("no engines to serve")
    if token is not None:
        check_token(token)
    engines = dict(engines)
    cells = list(engines)
    limiter = anyio.CapacityLimiter(limits.workers)
    page = page_response_factory()

    async def index(request: Request) -> Response:
        return page()

    async def healthz(request: Request) -> Response:
        return _JSON({"status": "ok", "cells": cells, "default": cells[0],
                      "backends": {c: e.backend for c, e in engines.items()},
                      "engines": {c: e.engine for c, e in engines.items()},
                      "subjects": {c: e.subjects for c, e in engines.items()},
                      "auth": token is not None},
                     headers=_API_HEADERS)

    async def complete(request: Request) -> Response:
        try:
            return await _complete(request)
        except Exception as e:  # handled here, not logged by uvicorn: the message may quote
            # the prompt, so the log gets the exception's type and stack only
            log.error("internal error on POST /v1/complete: %s (message withheld: it may "
                      "quote the prompt)\n%s", type(e).__name__,
                      "".join(traceback.format_tb(e.__traceback__)).rstrip())
            return error(500, f"internal error ({type(e).__name__}); see the server log")

    async def _complete(request: Request) -> Response:
        t0 = time.perf_counter()
        try:
            body = await read_body(request, limits.max_body)
            p = parse_request(body, cells, limits, min_confidence)
        except ApiError as e:
            return error(e.status, e.message)
        except ClientDisconnect:
            return error(400, "the client disconnected before sending the whole body")
        engine = engines[p.cell]
        if p.subject is not None and not engine.subjects:
            return error(400, f"the {p.cell} model was trained without subjects: leave "
                              "subject out")
        subject = (p.subject or "") if engine.subjects else None
        try:
            c = await anyio.to_thread.run_sync(
                partial(engine.complete, p.text, method="beam", beam=p.beam,
                        max_words=p.max_words, min_confidence=p.min_confidence,
                        partial_word=True, subject=subject, trim=p.trim),
                limiter=limiter,
            )
        except ValueError as e:  # the decoder's own checks (e.g. nothing to tokenize)
            return error(422, str(e))
        return _JSON({
            "completion": c.text,
            "confidence": _finite(c.confidence),
            "tokens": c.tokens,
            "token_probs": [_finite(x) for x in c.token_probs],
            "latency_ms": round((time.perf_counter() - t0) * 1e3, 3),
            "cell": p.cell,
            "engine": engine.engine,
            "subject": subject,
            "truncated": c.truncated,
            "suppressed": c.suppressed,
            "unknown_words": c.unknown_words,
            "continues_word": c.continues_word,
            "reason": c.reason,
        }, headers=_API_HEADERS)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            msg = f"no such page {request.url.path!r}: the API is POST /v1/complete"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            msg = f"{request.method} is not allowed on {request.url.path}: use {allowed}"
        else:
            msg = str(exc.detail)
        return error(exc.status_code, msg, exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error(500, f"internal error ({type(exc).__name__}); see the server log")

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/complete", complete, methods=["POST"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        middleware=[Middleware(Guard, error=error, token=token, limiter=rate_limit,
                               loopback_only=loopback_only)],
    )
