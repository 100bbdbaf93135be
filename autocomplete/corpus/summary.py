"""Summary statistics of generated emails: dependencies per kind and distance band, sizes."""

from __future__ import annotations

import re
from collections import Counter

from autocomplete.tokens import tokenize

BANDS: tuple[tuple[int, int], ...] = ((1, 10), (11, 30), (31, 60), (61, 120), (121, 200))
KINDS: tuple[str, ...] = ("reason", "tense", "entity", "cross")


def band_of(distance: int) -> int | None:
    """Index of the distance band (0-4) that holds `distance`, or None."""
    for i, (lo, hi) in enumerate(BANDS):
        if lo <= distance <= hi:
            return i
    return None


def split_sentences(body: str) -> list[str]:
    """Lines of a body split at sentence ends (greetings and signature lines included)."""
    out = []
    for line in body.split("\n"):
        out += [s for s in re.split(r"(?<=[.!?])\s+", line.strip()) if s]
    return out


def summarize(emails: list[dict], fillers: set[str] | None = None) -> dict:
    """Counts used in the printed summary and the tests (`fillers`: the distinct filler units)."""
    cells = Counter((d["kind"], band_of(d["distance"])) for e in emails for d in e["deps"])
    vocab: Counter[str] = Counter()
    lengths = []
    sentences: Counter[str] = Counter()
    for e in emails:
        toks = tokenize(e["body"])
        vocab.update(toks)
        lengths.append(len(toks))
        sentences.update(split_sentences(e["body"]))
    top_sentence, top_count = sentences.most_common(1)[0]
    lengths.sort()
    return {
        "emails": len(emails),
        "words": sum(c for t, c in vocab.items() if t.isalnum()),
        "tokens": sum(lengths),
        "distinct_tokens": len(vocab),
        "deps": sum(len(e["deps"]) for e in emails),
        "cells": {f"{k}/{BANDS[b][0]}-{BANDS[b][1]}": cells[(k, b)] for k in KINDS
                  for b in range(len(BANDS))},
        "max_distance": max((d["distance"] for e in emails for d in e["deps"]), default=0),
        "median_body_tokens": lengths[len(lengths) // 2],
        "max_body_tokens": lengths[-1],
        "share_bodies_over_250": sum(n >= 250 for n in lengths) / len(lengths),
        "top_sentence": top_sentence,
        "top_sentence_share": top_count / sum(sentences.values()),
        "sentences": sum(sentences.values()),
        "distinct_fillers": None if fillers is None else len(fillers),
    }


def format_summary(stats: dict) -> str:
    """Human-readable table of `summarize` output."""
    lines = ["deps per kind x band (tokens):"]
    header = "  kind     " + "".join(f"{f'{lo}-{hi}':>9}" for lo, hi in BANDS) + "    total"
    lines.append(header)
    for k in KINDS:
        row = [stats["cells"][f"{k}/{lo}-{hi}"] for lo, hi in BANDS]
        lines.append(f"  {k:<9}" + "".join(f"{c:>9}" for c in row) + f"{sum(row):>9}")
    lines += [
        f"emails: {stats['emails']}  words: {stats['words']}  tokens: {stats['tokens']}",
        f"distinct tokens: {stats['distinct_tokens']}  deps: {stats['deps']}"
        f"  max distance: {stats['max_distance']}",
        f"body tokens: median {stats['median_body_tokens']}, max {stats['max_body_tokens']},"
        f" share >= 250: {stats['share_bodies_over_250']:.4f}",
        f"top sentence share: {stats['top_sentence_share']:.4%} "
        f"({stats['top_sentence']!r}) of {stats['sentences']} sentences",
    ]
    if stats.get("distinct_fillers") is not None:
        lines.append(f"distinct filler units (clauses and sentences): {stats['distinct_fillers']}")
    return "\n".join(lines)
