"""Email corpora: the built-in generated one and loaders for real mail."""
