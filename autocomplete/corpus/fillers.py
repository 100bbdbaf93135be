"""Compositional filler between a cue and its target, from parts in templates/fillers.json.

A filler unit is a clause (inside a request sentence, ending with "," or ";")
or a sentence, built from a form ("{subject} {verb} {object} {place}.") whose
slots are drawn from one pool of parts: openers, subjects, verbs, objects,
place phrases, time-free manner phrases and asides. The parts come in two
disjoint pools: "train" builds the corpus, "heldout" only the held-out-template
probes (`generator.heldout_probe_emails`), so recall on those probes measures
memory of the cue rather than memory of the templates around it.

Parts never name a time word, a reason, a target, a city or a project, so the
filler is neutral: only the cue predicts the target. A corpus may also borrow
some of its filler units from its own topic sentences (`borrowed`), neutral ones
only, so that between cue and target a cell meets the rest of the corpus's text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

POOLS: tuple[str, ...] = ("train", "heldout")
PART_NAMES: tuple[str, ...] = (
    "openers", "subjects", "verbs", "objects", "places", "manners", "asides", "predicates",
    "shorts",
)
_FORM_SLOT_RE = re.compile(r"\{(opener|subject|verb|object|place|manner|aside|predicate)(\d*)\}")


@dataclass(frozen=True)
class FillerPool:
    """One pool of parts and the shared forms that combine them."""

    name: str
    parts: dict[str, tuple[str, ...]]
    clause_forms: tuple[str, ...]
    sentence_forms: tuple[str, ...]
    short_forms: tuple[str, ...]


def load_pool(data: dict, name: str) -> FillerPool:
    """The pool `name` ("train" or "heldout") of the parsed templates/fillers.json."""
    if name not in POOLS:
        raise ValueError(f"unknown filler pool {name!r}; expected one of {POOLS}")
    parts = {key: tuple(data[name][key]) for key in PART_NAMES}
    return FillerPool(name, parts, tuple(data["clause_forms"]), tuple(data["sentence_forms"]),
                      tuple(data["short_forms"]))


def _expand(rng: random.Random, pool: FillerPool, form: str) -> str:
    """Fill a form's part slots; {subject2} is a second draw of a subject."""
    return _FORM_SLOT_RE.sub(lambda m: rng.choice(pool.parts[m.group(1) + "s"]), form)


def clause(rng: random.Random, pool: FillerPool) -> str:
    """A filler clause that ends with "," or ";" (slot placeholders such as {first} left in)."""
    return _expand(rng, pool, rng.choice(pool.clause_forms))


def sentence(rng: random.Random, pool: FillerPool) -> str:
    """A filler sentence (first letter not yet capitalised; slot placeholders left in)."""
    return _expand(rng, pool, rng.choice(pool.sentence_forms))


def short_clause(rng: random.Random, pool: FillerPool) -> str:
    """A one- to three-word clause: an opener such as "honestly,"."""
    return rng.choice(pool.parts["openers"])


def short_sentence(rng: random.Random, pool: FillerPool) -> str:
    """A short sentence: "{subject} is on it." or, one time in four, one such as "All good."."""
    if rng.random() < 0.25:
        return rng.choice(pool.parts["shorts"])
    return _expand(rng, pool, rng.choice(pool.short_forms))


def borrowed(
    rng: random.Random,
    sentences: Sequence[Sequence[str]],
    fill: Callable[[str], str],
    neutral: Callable[[str], bool],
    clause: bool,
    names: frozenset[str],
) -> str | None:
    """A sentence from elsewhere in the corpus to stand as a filler unit, or None.

    Draws a group of `sentences` (a topic's details), one of its templates, and
    fills its slots, until `neutral` accepts the text (50 draws at most). As a
    clause its first letter is lowered (unless it starts an acronym or a name
    in `names`) and its end becomes ",".
    """
    for _ in range(50):
        text = fill(rng.choice(rng.choice(sentences)))
        if not neutral(text):
            continue
        if clause:
            if not text[:2].isupper() and text.split()[0] not in names:
                text = text[0].lower() + text[1:]
            text = text.rstrip(".!?") + ","
        return text
    return None


def fit(
    rng: random.Random,
    lo_len: int,
    hi_len: int,
    unit: Callable[[], str],
    short: Callable[[], str],
    ntok: Callable[[str], int],
) -> list[str]:
    """Filler units with a total token count in [lo_len, hi_len].

    Long units come from `unit`; `short` fills what is left when a long one
    does not fit. Raises RuntimeError when no combination is found.
    """
    if hi_len <= 0:
        return []
    for attempt in range(100):
        goal = rng.randint(lo_len, hi_len) if attempt < 60 else hi_len
        units: list[str] = []
        total = misses = 0
        while total < goal and misses < 40:
            room = goal - total
            if room < 6 and total >= lo_len:  # close enough: no short unit needed
                break
            text = unit() if room >= 6 and misses < 20 else short()
            n = ntok(text)
            if n > room:
                misses += 1
                continue
            units.append(text)
            total += n
        if lo_len <= total <= hi_len:
            return units
    raise RuntimeError(f"cannot fit filler of {lo_len}-{hi_len} tokens")


def distinct_units(pool: FillerPool, forms: Sequence[str]) -> int:
    """How many distinct filler texts the forms can make from the pool (slots left unfilled)."""
    total = 0
    for form in forms:
        n = 1
        for m in _FORM_SLOT_RE.finditer(form):
            n *= len(pool.parts[m.group(1) + "s"])
        total += n
    return total
