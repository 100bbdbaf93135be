"""HTTP completion server: `autocomplete serve` (Starlette + uvicorn) and its web page."""

from autocomplete.serve.app import (
    CELL_ORDER,
    Engine,
    Limits,
    create_app,
    load_engine,
    load_engines,
)

__all__ = ["CELL_ORDER", "Engine", "Limits", "create_app", "load_engine", "load_engines"]
