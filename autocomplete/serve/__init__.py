"""HTTP completion server: `autocomplete serve` (Starlette + uvicorn) and its web page."""

from autocomplete.serve.app import (
    Engine,
    Limits,
    create_app,
    load_engine,
    load_engines,
)

__all__ = ["Engine", "Limits", "create_app", "load_engine", "load_engines"]
