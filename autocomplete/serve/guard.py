"""Who may use the completion server, and how often.

A model trained on someone's mail holds their language: anyone who can send
it prompts can read that language back. So the server

* checks a bearer token (`Authorization: Bearer <token>`, compared in
  constant time) on every path but the page and /healthz, when it has one;
* without a token, answers only requests addressed to a loopback name
  (`Host: localhost`, 127.x, ::1), so that a web page cannot reach it by
  pointing a DNS name of its own at 127.0.0.1 (DNS rebinding);
* rate-limits each client address with a token bucket (429 and Retry-After),
  on the same paths as the token, so a token cannot be guessed at speed either;
* keeps query strings out of uvicorn's access log: the API takes none, so one
  there could only be text or a token a client put in the URL.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response

MIN_TOKEN_CHARS = 16
TOKEN_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
# Served to anyone: the page holds no user data and needs no token to load (it asks for
# one), and /healthz only names the loaded cells, for monitoring without the secret.
OPEN_PATHS = frozenset({"/", "/healthz"})
ACCESS_LOGGER = "uvicorn.access"


def check_token(token: str) -> str:
    """`token` if it can be a bearer token; ValueError saying what to fix if not."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the token is {len(token)} characters long; use at least "
                         f"{MIN_TOKEN_CHARS}, such as the output of {TOKEN_HINT}")
    if not all("!" <= ch <= "~" for ch in token):
        raise ValueError("the token may hold only visible ASCII characters (no spaces); "
                         f"make one with {TOKEN_HINT}")
    return token


def needs_token_message(where: str, env: str) -> str:
    """Why `serve` will not listen on `where` without a token, and what to do (one line)."""
    where = where or "'' (every address)"
    return (f"refusing to listen on {where} without a token: anyone who reaches it could read "
            f"language learnt from your mail. Set {env} (or pass --token), e.g. "
            f"export {env}=$({TOKEN_HINT}), or keep --host 127.0.0.1")


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an Authorization header value is `Bearer <token>` (constant-time compare)."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    # Starlette decodes header bytes as latin-1, so this gives back the bytes sent
    given_bytes = given.strip().encode("latin-1", "replace")
    same = hmac.compare_digest(given_bytes, token.encode("ascii"))
    return scheme.lower() == "bearer" and same


def is_loopback_name(host: str) -> bool:
    """Whether `host` (a name or an IP literal, no port) always means this machine."""
    host = host.strip().lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: never leaves the host
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def host_header_name(value: str) -> str:
    """The host part of a Host header: "127.0.0.1:8000" -> "127.0.0.1", "[::1]:80" -> "::1"."""
    value = value.strip()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def client_key(scope: Mapping[str, Any]) -> str:
    """The rate-limit key of a request: its client address, IPv6 by /64 (one machine's
    share of a network, which it can fill with addresses at will)."""
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class RateLimiter:
    """A token bucket per client: `rate` requests a second, bursts of up to `burst`.

    Memory is bounded: a client whose bucket has filled up again is forgotten
    (it would start full anyway), and past `max_clients` the client seen
    longest ago is. Used from the event loop only (no lock).
    """

    def __init__(self, rate: float, burst: int | None = None, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        burst = max(1, math.ceil(2 * rate)) if burst is None else burst
        if not (math.isfinite(rate) and rate > 0) or burst < 1 or max_clients < 1:
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, not {rate}, {burst}")
        self.rate, self.burst, self.max_clients, self.clock = rate, burst, max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Take one request from `client`'s bucket: 0.0 if it may go, else seconds to wait."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        self._forget(now)
        return wait

    def _forget(self, now: float) -> None:
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        for _ in range(2):  # a little at a time: amortised O(1) a request
            oldest, (tokens, last) = next(iter(self._buckets.items()))
            if tokens + (now - last) * self.rate < self.burst:
                break
            del self._buckets[oldest]


ErrorFactory = Callable[[int, str, Mapping[str, str]], Response]


class Guard:
    """ASGI middleware: host check, rate limit and bearer token, in that order.

    `token`: required on every path but `open_paths`. `limiter`: applied on
    the same paths, before the token check (so guessing is rate-limited too).
    `loopback_only`: 403 to requests whose Host header is not a loopback name.
    `error(status, message, headers)` builds the JSON error responses.
    """

    def __init__(self, app, *, error: ErrorFactory, token: str | None = None,
                 limiter: RateLimiter | None = None, loopback_only: bool = False,
                 open_paths: Collection[str] = OPEN_PATHS):
        self.app, self.error, self.token, self.limiter = app, error, token, limiter
        self.loopback_only, self.open_paths = loopback_only, frozenset(open_paths)

    def refusal(self, scope: Mapping[str, Any]) -> Response | None:
        """The error response for a request that may not go on, or None."""
        headers = Headers(scope=scope)
        host = headers.get("host")
        if self.loopback_only and host is not None and not is_loopback_name(
                host_header_name(host)):
            return self.error(403, f"this server answers only on its loopback address (Host "
                                   f"{host[:60]!r} is not): open http://127.0.0.1 or "
                                   "http://localhost on its port, or give the server a "
                                   "token", {})
        if scope["path"] in self.open_paths:
            return None
        if self.limiter is not None:
            wait = self.limiter.take(client_key(scope))
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                return self.error(429, f"too many requests: at most {self.limiter.rate:g} a "
                                       f"second (bursts of {self.limiter.burst}) from one "
                                       f"client; retry in {seconds} s",
                                  {"Retry-After": str(seconds)})
        if self.token is not None and not bearer_matches(headers.get("authorization"),
                                                         self.token):
            missing = "authorization" not in headers
            return self.error(401, "this server needs its token: send the header "
                                   "'Authorization: Bearer <token>'" if missing else
                                   "wrong token (or not a Bearer token)",
                              {"WWW-Authenticate": 'Bearer realm="autocomplete"'})
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            refused = self.refusal(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


class DropQueryStrings(logging.Filter):
    """Cut the query string from uvicorn access-log lines (path and status stay).

    uvicorn logs `client - "METHOD path?query HTTP/x" status` with the path
    as the third argument.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) \
                and "?" in args[2]:
            record.args = (*args[:2], args[2].partition("?")[0] + "?[withheld]", *args[3:])
        return True


def quiet_access_log(logger_name: str = ACCESS_LOGGER) -> None:
    """Install `DropQueryStrings` on uvicorn's access logger (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
