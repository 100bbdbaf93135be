"""HTTP completion server: `autocomplete serve` (Starlette + uvicorn) and its web page."""

from autocomplete.serve.app import (
    Engine,
    Limits,
    create_app,
    load_engine,
    load_engines,
)
from autocomplete.serve.guard import RateLimiter

__all__ = ["Engine", "Limits", "RateLimiter", "create_app", "load_engine", "load_engines"]
