"""Cell names, importable without Keras (for the CLI's choices)."""

CELL_NAMES = ("simple_rnn", "lstm", "gru")
