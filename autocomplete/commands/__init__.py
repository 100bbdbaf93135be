"""Command modules of the `autocomplete` CLI, imported lazily by `autocomplete.cli`."""
