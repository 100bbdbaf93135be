"""The comparison report: every cell and the n-gram baseline on the same test split.

`compare` computes (pure functions returning DataFrames and dicts, no files
written), `render` writes the plots, `compare.md` and a self-contained
`compare.html`. The `autocomplete report` command (`autocomplete.commands.report`)
ties them together.
"""
