"""Replace what a model must never learn to complete with placeholder tokens.

A model trained on someone's mail can learn to complete their e-mail address,
phone number or account number after the words that introduce it. Before
training, every match of the patterns in `normalization.json` (package data)
becomes its kind's placeholder: e-mail addresses `xxemail`, URLs `xxurl`,
phone numbers `xxphone`, and long digit strings (5+ digits), card- or
account-like digit groups and the numbers after PIN, password, account
number and the like `xxnumber`. Short numbers (dates, times, amounts, "the
11th") stay. A placeholder is one token of letters, so the vocabulary holds
one entry per kind instead of the values; completion never suggests one
(`autocomplete.decoding`).

    >>> normalize("Call 713-853-1234 or mail jo@example.com by the 11th.")
    ('Call xxphone or mail xxemail by the 11th.', Counter({'phone': 1, 'email': 1}))

Models trained before normalization existed have no `keep_numbers` in their
config.json: they saw the raw text (`keeps_numbers`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from autocomplete.tokens import token_spans

if TYPE_CHECKING:
    import pandas as pd

RULES_PATH = Path(__file__).with_name("normalization.json")
_WORD_CHAR = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class Kind:
    """One kind of private value: its name, placeholder token and (needs, match) patterns.

    `match` finds the values; `needs` is a quick test on the whole text that
    must pass before `match` is tried (most texts hold no value at all).
    """

    name: str
    placeholder: str
    patterns: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]


@cache
def rules(path: Path = RULES_PATH) -> tuple[Kind, ...]:
    """The kinds in `path`, in priority order (read once per process)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    kinds = tuple(
        Kind(k["kind"], k["placeholder"],
             tuple((re.compile(p["needs"], re.I), re.compile(p["match"], re.I))
                   for p in k["patterns"]))
        for k in data["kinds"]
    )
    for kind in kinds:
        if not re.fullmatch(r"[a-z]+", kind.placeholder):
            raise ValueError(f"{path}: placeholder {kind.placeholder!r} must be lower-case "
                             "letters, one token")
    return kinds


def kinds() -> tuple[str, ...]:
    """Names of the kinds, in the file's order: ("email", "url", "phone", "number")."""
    return tuple(k.name for k in rules())


def placeholders() -> frozenset[str]:
    """Every placeholder token."""
    return frozenset(k.placeholder for k in rules())


def find(text: str) -> list[tuple[int, int, Kind]]:
    """Non-overlapping (start, end, kind) of the values in `text`, left to right.

    Overlaps go to the match that starts first, then the longer, then the
    earlier kind and pattern in the file.
    """
    found = []
    for priority, (kind, needs, pattern) in enumerate(
            (k, *p) for k in rules() for p in k.patterns):
        if not needs.search(text):
            continue
        for m in pattern.finditer(text):
            start, end = m.span("value") if "value" in pattern.groupindex else m.span()
            if end > start:
                found.append((start, -(end - start), priority, kind))
    spans: list[tuple[int, int, Kind]] = []
    for start, neg_length, _, kind in sorted(found, key=lambda f: f[:3]):
        if not spans or start >= spans[-1][1]:
            spans.append((start, start - neg_length, kind))
    return spans


def _replace(text: str, spans: list[tuple[int, int, Kind]]) -> tuple[str, list[int]]:
    """`text` with each span replaced by its placeholder (spaced off adjacent letters
    or digits, so it stays one token); and where the text after each span starts in
    the result."""
    out, ends, at, length = [], [], 0, 0
    for start, end, kind in spans:
        lead = " " if start and _WORD_CHAR.match(text[start - 1]) else ""
        tail = " " if end < len(text) and _WORD_CHAR.match(text[end]) else ""
        piece = text[at:start] + lead + kind.placeholder + tail
        out.append(piece)
        length += len(piece)
        ends.append(length)
        at = end
    out.append(text[at:])
    return "".join(out), ends


def normalize(text: str) -> tuple[str, Counter[str]]:
    """`text` with every value replaced by its placeholder, and the count per kind."""
    spans = find(text)
    new, _ = _replace(text, spans)
    return new, Counter(kind.name for _, _, kind in spans)


def normalize_emails(df: pd.DataFrame, subjects: bool = False
                     ) -> tuple[pd.DataFrame, Counter[str]]:
    """A copy of `df` with every `body` normalized, and the counts per kind over all.

    With `subjects` (a model that reads them, `train --subject`) every
    `subject` is normalized and counted too. A `deps` column (the built-in
    corpus' token positions of its planted dependencies) is moved to the new
    token positions; a dependency whose cue or target token was replaced is
    dropped.
    """
    bodies, deps, total = [], [], Counter()
    has_deps = "deps" in df.columns
    for i, body in enumerate(df["body"]):
        spans = find(body)
        new, ends = _replace(body, spans)
        bodies.append(new)
        total.update(kind.name for _, _, kind in spans)
        if has_deps:
            row = df["deps"].iloc[i]
            moves = spans and isinstance(row, (list, tuple)) and len(row)
            deps.append(_move_deps(list(row), body, new, spans, ends) if moves else row)
    out = df.copy()
    out["body"] = bodies
    if subjects and "subject" in df.columns:
        new_subjects = []
        for subject in df["subject"]:
            text, counts = normalize(subject) if isinstance(subject, str) else (subject, {})
            new_subjects.append(text)
            total.update(counts)
        out["subject"] = new_subjects
    if has_deps:
        out["deps"] = deps
    return out, total


def _move_deps(deps: list[dict], old: str, new: str, spans, ends: list[int]) -> list[dict]:
    """Dependencies with token positions in `old` moved to those in `new`."""
    old_starts = [start for start, _ in token_spans(old)]
    new_index = {start: i for i, (start, _) in enumerate(token_spans(new))}

    def moved(position: int) -> int | None:
        char, shift = old_starts[position], 0
        for (start, end, _), new_end in zip(spans, ends, strict=True):
            if start <= char < end:
                return None  # the token was replaced
            if end <= char:
                shift = new_end - end
        return new_index.get(char + shift)

    out = []
    for dep in deps:
        cue, target = moved(int(dep["cue_token"])), moved(int(dep["target_token"]))
        if cue is not None and target is not None:
            out.append({**dep, "cue_token": cue, "target_token": target,
                        **({"distance": target - cue} if "distance" in dep else {})})
    return out


def keeps_numbers(config: dict) -> bool:
    """Whether the model of `config` (its config.json) was trained on the raw text."""
    return bool(config.get("keep_numbers", True))
