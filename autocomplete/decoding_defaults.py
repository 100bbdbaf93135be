"""Defaults of a completion, importable without numpy.

`decoding.Completer.complete`, the `complete` command's options, the web
service's request defaults and the report's latency runs all start from these
numbers. They live apart from `decoding` because the CLI reads them to build
its options, and importing numpy there would slow `autocomplete complete --help`.
"""

METHOD = "beam"  # beam search; "greedy" and "sample" are the other methods
BEAM = 4  # hypotheses kept by beam search (1 = greedy)
# a trimmed suggestion (`trim`: what the page asks for while someone types) keeps the
# likely start of a completion, and greedy search takes the likeliest token at every step;
# beam search ranks whole sentences by their mean log-probability. Greedy saves as many
# keystrokes or more at a quarter of the latency (BENCHMARKS.md, "Keystrokes saved")
TRIM_BEAM = 1
MAX_WORDS = 12  # a completion stops after this many words if the sentence has not ended
TEMPERATURE = 1.0  # sampling only: below 1 is safer, above 1 more varied
# what `serve` gives each model's completer for the states of texts read (MB); a one-off
# `complete` keeps none (`decoding.Completer`'s remember_mb)
REMEMBER_MB = 64
