"""`autocomplete serve`: the completion API and the Smart-Compose page over HTTP."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TensorFlow import (Keras fallback)
# One BLAS thread per completion, set before numpy loads: concurrency comes from serving
# requests in parallel threads, and BLAS threads fighting over the cores cost 10x latency.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import errno  # noqa: E402
import ipaddress  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from autocomplete.commands.params import GivenPath  # noqa: E402
from autocomplete.decoding_defaults import REMEMBER_MB  # noqa: E402
from autocomplete.model_names import CELL_NAMES  # noqa: E402

TOKEN_ENV = "AUTOCOMPLETE_TOKEN"  # the environment keeps the token out of `ps`


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep the loopback default unless you mean to let "
                   "other machines in; any other address needs --token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--cell", type=click.Choice(CELL_NAMES), default=None,
              help="Serve only this cell's model (models-dir/<cell>). Default: every trained cell.")
@click.option("--model", "model_dir", type=GivenPath(file_okay=False, path_type=Path),
              default=None, help="Serve only the model in this directory.")
@click.option("--models-dir", type=GivenPath(file_okay=False, path_type=Path),
              default=Path("models"), show_default=True,
              help="Where the trained models are (one sub-directory per cell).")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Default for requests: no suggestion below this confidence (geometric-mean "
                   "token probability). A request's min_confidence overrides it.")
@click.option("--token", envvar=TOKEN_ENV, show_envvar=True, default=None,
              help="Require 'Authorization: Bearer TOKEN' on the API (the page asks for it, "
                   "or open /#token=TOKEN). Needed to listen on a non-loopback address. "
                   "Prefer the environment variable: options show in `ps`.")
@click.option("--rate-limit", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="Completion requests a second per client address (token bucket); 0: no "
                   "limit. Over it: 429 with Retry-After.")
@click.option("--burst", type=click.IntRange(min=1), default=None,
              help="Requests a client may send at once before --rate-limit applies "
                   "[default: twice the rate]")
@click.option("--engine", type=click.Choice(["neural", "blend"]), default=None,
              help="blend: mix each model with its n-gram and the cache of the email, as "
                   "`autocomplete tune` fitted them; neural: the model alone.  "
                   "[default: blend where the model directory holds one]")
@click.option("--remember-mb", type=click.FloatRange(min=0), default=REMEMBER_MB,
              show_default=True,
              help="Memory per model for its states after recent texts, so that a keystroke "
                   "is answered from the text typed before it (same answers, a fraction of "
                   "the time). 0: none, for a server shared by people whose typing must not "
                   "show in each other's latency.")
@click.option("--access-log", is_flag=True,
              help="Log every request (method, path, status; never query strings or bodies).")
def serve(host: str, port: int, cell: str | None, model_dir: Path | None, models_dir: Path,
          min_confidence: float | None, token: str | None, rate_limit: float,
          burst: int | None, engine: str | None, remember_mb: float,
          access_log: bool) -> None:
    """Serve completions over HTTP, with a Gmail-style page at /.

    \b
    autocomplete serve                  # every trained cell, http://127.0.0.1:8000/
    autocomplete serve --cell gru --port 8080
    curl -s 127.0.0.1:8000/v1/complete -d '{"text": "Thanks for the"}'
    AUTOCOMPLETE_TOKEN=... autocomplete serve --host 0.0.0.0

    A model trained on your mail can be made to recite your language, so the
    server listens on loopback only unless given a token, and without one it
    answers only requests addressed to localhost (no DNS rebinding).

    Models are loaded once at start-up, through the TensorFlow-free numpy
    engine when the model directory holds an up-to-date inference.npz
    (`autocomplete train` writes it), else through Keras. A model directory
    where `autocomplete tune` wrote a blend answers with it unless --engine
    neural; the API's "engine" field says which answered.
    """
    try:
        import uvicorn

        from autocomplete.serve.app import create_app, load_engines
    except ImportError as e:
        raise click.ClickException(
            f"`autocomplete serve` needs starlette and uvicorn ({e}): "
            "pip install starlette uvicorn") from e
    from autocomplete.artifacts import ModelDirError
    from autocomplete.serve.guard import (
        ACCESS_LOGGER,
        RateLimiter,
        check_token,
        is_loopback_name,
        needs_token_message,
        quiet_access_log,
    )

    if cell and model_dir:
        raise click.UsageError("choose one of --cell and --model")
    if token is not None:
        try:
            check_token(token)
        except ValueError as e:
            raise click.ClickException(f"--token: {e}") from e
    elif not is_loopback_name(host):  # refused before binding anything
        raise click.ClickException(needs_token_message(host, TOKEN_ENV))
    sock = bind(host, port)  # before the (slower) model loading: a busy port fails at once
    addr, real_port = sock.getsockname()[:2]
    if token is None and not _is_loopback(addr):  # a loopback name that resolved elsewhere
        sock.close()
        raise click.ClickException(needs_token_message(f"{host} ({addr})", TOKEN_ENV))
    try:
        engines = load_engines(
            models_dir, cell=cell, model_dir=model_dir, engine=engine,
            remember_mb=remember_mb,
            on_skip=lambda msg: click.echo(f"warning: not serving {msg}", err=True))
    except ModelDirError as e:
        sock.close()
        raise click.ClickException(str(e)) from e
    for loaded in engines.values():
        if loaded.backend != "numpy":
            click.echo(
                f"note: {loaded.cell} runs on Keras (slower; imports TensorFlow): "
                f"{loaded.path} has no up-to-date inference.npz. Write it with `python -c "
                f"\"from autocomplete.fastpath import export_inference; "
                f"export_inference('{loaded.path}')\"` (or retrain).", err=True)
        if os.name == "posix" and loaded.path.stat().st_mode & 0o077:
            click.echo(f"note: other users of this machine can read {loaded.path}, which holds "
                       f"language learnt from the training mail: chmod -R go= {loaded.path}",
                       err=True)
    limiter = RateLimiter(rate_limit, burst) if rate_limit > 0 else None
    app = create_app(engines, min_confidence=min_confidence, token=token, rate_limit=limiter,
                     loopback_only=token is None)
    shown = f"[{addr}]" if ":" in addr else addr
    served = ", ".join(f"{cell} ({e.engine})" for cell, e in engines.items())
    click.echo(f"Serving {served} on http://{shown}:{real_port}/  (Ctrl+C to stop)")
    if token is not None:
        click.echo("The API needs 'Authorization: Bearer <token>'; the page asks for the token "
                   f"(or open http://{shown}:{real_port}/#token=<token>).")
    if not _is_loopback(addr):
        click.echo(f"warning: listening on {addr}: other machines can reach this server; "
                   "without TLS the token and the text cross the network in clear (put an "
                   "HTTPS proxy in front on networks you do not trust)", err=True)
    config = uvicorn.Config(app, log_level="warning", access_log=access_log, lifespan="off",
                            server_header=False, timeout_graceful_shutdown=5)
    quiet_access_log()  # after Config, which sets up uvicorn's loggers
    if access_log:  # log_level "warning" set the access logger to WARNING; its lines are INFO
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO)
    uvicorn.Server(config).run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; ClickException with the reason if impossible."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise click.ClickException(f"cannot listen on {host!r}: unknown host ({e})") from e
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            msg = (f"port {port} on {host} is already in use (another server?): stop it or "
                   "choose another port with --port")
        elif e.errno == errno.EACCES:
            msg = f"no permission to listen on port {port}: use a port above 1023"
        elif e.errno == errno.EADDRNOTAVAIL:
            msg = f"cannot listen on {host}: it is not an address of this machine"
        else:
            msg = f"cannot listen on {host}:{port}: {e.strerror or e}"
        raise click.ClickException(msg) from e
    return sock


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False
