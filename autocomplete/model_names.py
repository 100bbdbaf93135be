"""Cell names and their order, importable without Keras (for the CLI's choices).

`CELL_NAMES` is the one order of the cells: the lecture's (SimpleRNN, then the
gated cells). Every listing of cells follows it: `complete`'s table, the
report's rows and colours, the web service's cell menu. `DEFAULT_CELL` is the
cell used when none is named: the web service's default (first in its menu) and the
one the "train it first" hints name.
"""

from __future__ import annotations

CELL_NAMES = ("simple_rnn", "lstm", "gru")
# the arithmetic a model can train in, and how its LSTM/GRU gates can start (model.build_model)
PRECISIONS = ("float32", "mixed_bfloat16")
GATE_INITS = ("chrono-log", "chrono-full", "chrono", "default")
DEFAULT_CELL = "lstm"
# Each cell's Keras cell class (by name) and the gate blocks side by side in its kernels:
# how the numpy engine (`fastpath`) recognises a layer and slices its weights.
# `model.CELLS` maps the same names to the Keras layers.
KERAS_CELL_CLASSES = {"simple_rnn": "SimpleRNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def cell_sort_key(cell: str, first: str | None = None) -> tuple[int, int, str]:
    """Sort key of a cell name: `first` (if given), then `CELL_NAMES` order, then others by name.

    Example:

    ```python
    sorted(["gru", "mine", "lstm"], key=cell_sort_key)  # ["lstm", "gru", "mine"]
    ```
    """
    rank = CELL_NAMES.index(cell) if cell in CELL_NAMES else len(CELL_NAMES)
    return (0 if first is not None and cell == first else 1, rank, cell)

