"""Deterministic generator of the built-in email corpus (data/emails.jsonl.gz).

Realistic business and personal mail built from many sentence templates and
slot values, with four kinds of designed long-range dependencies recorded in
each email's "deps" (see data/README.md):

* reason: "... due to <reason phrase>, <filler> I need to take a <loan|sick|flight|vacation>"
  (the cue phrasing varies: "because of X,", "since X came up,", "X came up, so", ...)
* tense:  "<Today|Yesterday|Tomorrow> ..., <filler> I <need|needed|will need> ..."
* entity: a project code name is introduced, repeated after filler sentences (a
  quarter of the time in a sentence that reads as an introduction itself), and named
  again in the sentences after that target.
* cross: the reason is stated in a sentence of its own, filler sentences follow,
  then "So I need to take a <target>" (the cue crosses sentence boundaries).

The text right before a target never depends on which target it is, and the
filler between cue and target is drawn independently of the cue, so only
memory of the cue predicts the target. The filler is composed from parts
(`autocomplete.corpus.fillers`), so it cannot be memorised as a few fixed
clauses. Distances are balanced over the bands 1-10, 11-30, 31-60, 61-120 and
121-200 tokens.

Cue phrasings, entity frames and filler parts come in a "train" pool, which
builds the corpus, and a disjoint "heldout" pool, which builds only the
held-out-template probe emails (`heldout_probe_emails`, never written to the corpus).
The frame tables also list further training phrasings under "more", which the
corpus adds to the "train" pool (`generate(more_frames=False)`, `--no-more-frames`,
leaves them out). Some long filler units are the corpus's own neutral topic sentences
(`borrow`, `--borrow-filler`), so the text between cue and target is not only the
filler's composed parts. Some project names are repeated in one of the introductions
(`reintroduce`, `--reintroduce`), so an introduction is not always a project's first
mention. With all three the gated cells carry their cues through held-out templates
much further than without (BENCHMARKS.md, "Which template recall depends on").

Only `random.Random(seed)` is used, so the output is byte-identical for a seed:

    python -m autocomplete.corpus.generator --seed 0 --out data/emails.jsonl.gz
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import json
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autocomplete.corpus import fillers as fl
from autocomplete.corpus.summary import BANDS, KINDS, format_summary, summarize
from autocomplete.corpus.template_data import (
    CITIES,
    COMPANIES,
    DEPARTMENTS,
    FIRST_NAMES,
    HONORIFICS,
    MONTHS,
    SURNAMES,
    TITLES,
    load_templates,
)
from autocomplete.corpus.template_data import fill as _fill
from autocomplete.corpus.template_data import phone as _phone
from autocomplete.corpus.template_data import tuples as _tuples
from autocomplete.tokens import detokenize, token_spans, tokenize

DEFAULT_N_EMAILS = 14_000
DEFAULT_SEED = 0
DEFAULT_OUT = Path("data/emails.jsonl.gz")
# The chance that a long filler unit is a borrowed topic sentence: 0.4 left the GRU
# without three of its four cues in its default work (BENCHMARKS.md).
DEFAULT_BORROW = 0.15
# The chance that the sentence that names the project again is one of the pool's
# introductions ("Here is a quick status update on Falcon."). Without it an
# introduction is always a project's first mention, and the LSTM learned to leave its
# memory of the name unread in any sentence that reads like one (BENCHMARKS.md).
DEFAULT_REINTRODUCE = 0.25

POOLS: tuple[str, ...] = fl.POOLS  # "train" builds the corpus, "heldout" the held-out probes
# The frames of the "train" pool and the extra training phrasings listed under "more"
# (`generate(more_frames=True)`); the filler stays the "train" pool's.
MORE_FRAMES_POOL = "train+more"
DEFAULT_HELDOUT_EMAILS = 2_000
MAX_BODY_TOKENS = 249  # bodies stay below 250 tokens (training window 256)

TENSES: dict[str, tuple[str, str]] = {  # time word -> (verb phrase, target token)
    "today": ("need", "need"),
    "yesterday": ("needed", "needed"),
    "tomorrow": ("will need", "will"),
}
# Four names, as the reason cue has four targets: each name is then the target
# about 1,900 times per epoch, while at ~800 times per epoch (eight names, an
# earlier corpus) no cell learns to copy a name in 19 minutes of training.
PROJECTS: tuple[str, ...] = ("falcon", "orion", "atlas", "phoenix")
# Sentences right after an entity target that name the project again, when
# they fit in the email (see ENTITY_RECAPS).
RECAPS_PER_BLOCK = 2
REASON_TARGETS: tuple[str, ...] = ("loan", "sick", "flight", "vacation")
LECTURE_REASON = "my current job situation and family condition"
LECTURE_SENTENCE = (
    "Today due to my current job situation and family condition, I need to take a loan."
)


# ---------------------------------------------------------------------------
# Reasons. The key is the last token of the phrase, except where the data gives
# it (the lecture phrase's key is "job"). "{city}" is a single-token city that is
# repeated after the target ("take a flight to Chicago").


@dataclass(frozen=True)
class Reason:
    """A reason phrase template; `key` is the cue token ("{city}" for cities)."""

    template: str
    key: str
    weight: int = 1


def _reasons(items: list[str | dict]) -> tuple[Reason, ...]:
    """Reasons from data: a phrase, or {"template", "key", "weight"} to set key and weight."""
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(Reason(**item))
        else:
            out.append(Reason(item, tokenize(item)[-1] if "{" not in item else "{city}"))
    return tuple(out)


_REASON_DATA = load_templates("reasons")
REASONS: dict[str, tuple[Reason, ...]] = {
    target: _reasons(items) for target, items in _REASON_DATA["reasons"].items()
}
if REASONS["loan"][0].template != LECTURE_REASON:  # the lecture request uses the first one
    raise ValueError("templates/reasons.json: the first loan reason must be the lecture's")
FLIGHT_CITIES: tuple[str, ...] = tuple(_REASON_DATA["flight_cities"])
# What follows the target; four loan continuations in five are empty, so most
# loan requests end at "loan.", as the lecture's does.
REASON_CONTINUATIONS: dict[str, tuple[str, ...]] = _tuples(_REASON_DATA["continuations"])
REASON_FOLLOWUPS: dict[str, tuple[str, ...]] = _tuples(_REASON_DATA["followups"])


def _frames(table: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """A frame table per pool, with the "train" pool and its "more" phrasings together."""
    pools = _tuples(table)
    pools[MORE_FRAMES_POOL] = pools["train"] + pools.pop("more", ())
    return pools


_REQUEST_DATA = load_templates("requests")
REQUEST_INTROS: tuple[str, ...] = tuple(_REQUEST_DATA["intros"])
# Cue phrasings per pool: "{R}" is the reason phrase ("due to {R},", "{R} came up, so").
REQUEST_CONNECTIVES: dict[str, tuple[str, ...]] = _frames(_REQUEST_DATA["connectives"])
# The cross kind: a sentence that states the reason, and the request that comes
# later, which always ends with "to take a" before the target.
CROSS_CUES: dict[str, tuple[str, ...]] = _frames(_REQUEST_DATA["cross_cues"])
CROSS_REQUESTS: dict[str, tuple[str, ...]] = _frames(_REQUEST_DATA["cross_requests"])
_REQUEST_SUBJECTS: dict[str, tuple[str, ...]] = _tuples(_REQUEST_DATA["subjects"])
# Filler between cue and target: composed from the parts of one pool (see fillers.py).
# No part mentions a time word, a reason word, a target, a city or a project.
FILLER_POOLS: dict[str, fl.FillerPool] = {
    name: fl.load_pool(load_templates("fillers"), name) for name in POOLS
}

# ---------------------------------------------------------------------------
# Entity (project code name) frames and neutral filler sentences. "{P}" is the
# project name; fillers never name a project, so probe distances hold.

_ENTITY_DATA = load_templates("entity")
ENTITY_CUES: dict[str, tuple[str, ...]] = _frames(_ENTITY_DATA["cues"])  # per pool
ENTITY_TARGETS: dict[str, tuple[str, ...]] = _frames(_ENTITY_DATA["targets"])
ENTITY_AFTER: tuple[str, ...] = tuple(_ENTITY_DATA["after"])
# Sentences after the target that name the project again, as real updates do.
# They give the cell short, cross-sentence uses of the name to learn from (the
# filler between cue and target never names it, so probe distances hold).
ENTITY_RECAPS: tuple[str, ...] = tuple(_ENTITY_DATA["recaps"])
_ENTITY_SUBJECTS: tuple[str, ...] = tuple(_ENTITY_DATA["subjects"])

# ---------------------------------------------------------------------------
# The frame of an email: openers, closers, transitions between blocks,
# greetings ({f}/{g} first names, {h} honorific, {s} surname, {d} department)
# and sign-offs.

_FRAME_DATA = load_templates("frame")
OPENERS: tuple[str, ...] = tuple(_FRAME_DATA["openers"])
CLOSERS: tuple[str, ...] = tuple(_FRAME_DATA["closers"])
TRANSITIONS: tuple[str, ...] = tuple(_FRAME_DATA["transitions"])
_GREETINGS: dict[str, tuple[str, ...]] = _tuples(_FRAME_DATA["greetings"])
SIGN_OFFS: tuple[str, ...] = tuple(_FRAME_DATA["sign_offs"])
PERSONAL_SIGN_OFFS: tuple[str, ...] = tuple(_FRAME_DATA["personal_sign_offs"])
_PHONE_LABELS: tuple[str, ...] = tuple(_FRAME_DATA["phone_labels"])


# ---------------------------------------------------------------------------
# Topic paragraphs: every topic has leads, details and asks with slots.


@dataclass(frozen=True)
class Topic:
    """Sentence templates of one email topic."""

    name: str
    subjects: tuple[str, ...]
    leads: tuple[str, ...]
    details: tuple[str, ...]
    asks: tuple[str, ...]


ALL_TOPICS: tuple[Topic, ...] = tuple(
    Topic(t["name"], tuple(t["subjects"]), tuple(t["leads"]), tuple(t["details"]),
          tuple(t["asks"]))
    for t in load_templates("topics")
)
_NAMES = frozenset(FIRST_NAMES)
PERSONAL_TOPICS: tuple[str, ...] = ("personal", "school", "home", "community", "leisure")
TOPIC_BY_NAME: dict[str, Topic] = {t.name: t for t in ALL_TOPICS}

# Topic sentences a corpus may borrow as filler (`generate(borrow=...)`): only those that
# name no time word (templates/fillers.json, "borrow_excluded_words"), target, reason key,
# project, month or city, so the borrowed filler is as neutral as the composed one.
_BORROWABLE: tuple[tuple[str, ...], ...] = tuple(t.details for t in ALL_TOPICS)
_NOT_BORROWABLE = frozenset(
    [*load_templates("fillers")["borrow_excluded_words"], *TENSES, *REASON_TARGETS, "take",
     *(target for _, target in TENSES.values()), *PROJECTS, *(m.lower() for m in MONTHS),
     *(r.key for rs in REASONS.values() for r in rs if r.key != "{city}")])
_CITY_PHRASES = tuple(f" {' '.join(tokenize(c))} " for c in CITIES) + tuple(
    f" {c.lower()} " for c in FLIGHT_CITIES)


def _borrowable(text: str) -> bool:
    toks = tokenize(text)
    spaced = f" {' '.join(toks)} "
    return not set(toks) & _NOT_BORROWABLE and not any(c in spaced for c in _CITY_PHRASES)


# ---------------------------------------------------------------------------
# Building blocks with markers. A marker "\x02c3\x03" / "\x02t3\x03" is put
# right before the cue key word / target word of dependency 3; markers are
# stripped at the end and turned into token indices.

_MARK_RE = re.compile("\x02([ct])(\\d+)\x03")


def _strip(text: str) -> str:
    return _MARK_RE.sub("", text)


def _ntok(text: str) -> int:
    return len(tokenize(_strip(text)))


def _cap(text: str) -> str:
    """Upper-case the first letter of a sentence, skipping leading markers."""
    m = re.match("(?:\x02[ct]\\d+\x03)*", text)
    i = m.end() if m else 0
    return text[:i] + text[i : i + 1].upper() + text[i + 1 :]


def _mark_key(phrase: str, key: str, dep: int) -> str:
    """The phrase with the cue marker of `dep` before the last word holding the key token."""
    words = phrase.split(" ")
    for wi in range(len(words) - 1, -1, -1):
        if key in tokenize(words[wi]):
            words[wi] = f"\x02c{dep}\x03" + words[wi]
            break
    return " ".join(words)


@dataclass
class _Dep:
    kind: str
    cue: str
    target: str
    expected: int  # planned distance, checked against the final text


def _feasible_range(bases: Sequence[int], span: tuple[int, int]) -> tuple[int, int]:
    """Filler lengths L with base + L inside the span (lo, hi) for every base."""
    lo, hi = span
    return max([0] + [lo - b for b in bases]), min(hi - b for b in bases)


def _key_index(ptoks: list[str], reason: Reason) -> int:
    """Position of the cue key in the phrase's tokens (a city is the last token)."""
    if reason.key == "{city}":
        return len(ptoks) - 1
    return len(ptoks) - 1 - ptoks[::-1].index(reason.key)


def _request_bases(reason: Reason, conn: str) -> tuple[int, int]:
    """Worst case (comma, two-word verb) distances time word -> verb and key -> target."""
    ptoks = tokenize(reason.template.replace("{city}", "Chicago"))
    pre, post = (len(tokenize(part)) for part in conn.split("{R}"))
    base_t = 1 + 1 + pre + len(ptoks) + post + 1
    base_r = len(ptoks) - _key_index(ptoks, reason) + post + 1 + 2 + 3
    return base_t, base_r


@functools.cache
def _connectives(pool: str, band: int) -> tuple[str, ...]:
    """The pool's cue phrasings with which every target has a reason that fits the band."""
    out = tuple(
        conn for conn in REQUEST_CONNECTIVES[pool]
        if all(any(_fits(_request_bases(r, conn), BANDS[band]) for r in REASONS[t])
               for t in REASON_TARGETS)
    )
    if not out:  # pragma: no cover - the data always has a short phrasing
        raise ValueError(f"templates/requests.json: no {pool} connective fits band {band}")
    return out


def _fits(bases: Sequence[int], span: tuple[int, int]) -> bool:
    lo_len, hi_len = _feasible_range(bases, span)
    return lo_len <= hi_len


class _EmailBuilder:
    """Builds one email from its pools of cue frames, target frames and filler."""

    def __init__(self, rng: random.Random, pool: str = "train", filler_pool: str | None = None,
                 target_pool: str | None = None, borrow: float = 0.0, reintroduce: float = 0.0):
        self.rng = rng
        self.borrow = borrow  # the chance that a long filler unit is a borrowed topic sentence
        self.reintroduce = reintroduce  # the chance that a project's target is an introduction
        self.pool = pool  # cue phrasings and the sentences that introduce a cue
        self.target_pool = target_pool or pool  # the sentences that ask for a target
        self.fillers = FILLER_POOLS[filler_pool or pool]
        self.deps: list[_Dep] = []
        self.units: list[str] = []  # the filler units used, for the summary

    def fill(self, template: str) -> str:
        return _cap(_fill(self.rng, template))

    def _new_dep(self, kind: str, cue: str, target: str, expected: int) -> int:
        self.deps.append(_Dep(kind, cue, target, expected))
        return len(self.deps) - 1

    def _filler(self, lo_len: int, hi_len: int, sentences: bool) -> list[str]:
        """Composed filler units (sentences, or clauses inside a sentence) of lo-hi tokens."""
        rng, pool = self.rng, self.fillers
        make, make_short = ((fl.sentence, fl.short_sentence) if sentences
                            else (fl.clause, fl.short_clause))
        finish = self.fill if sentences else functools.partial(_fill, rng)  # a clause: as is

        def unit() -> str:
            if self.borrow and rng.random() < self.borrow:
                text = fl.borrowed(rng, _BORROWABLE, functools.partial(_fill, rng), _borrowable,
                                   not sentences, _NAMES)
                if text:
                    return text
            return finish(make(rng, pool))

        units = fl.fit(rng, lo_len, hi_len, unit, lambda: finish(make_short(rng, pool)), _ntok)
        self.units += units
        return units

    def _reason_phrase(self, reason: Reason) -> tuple[str, str, str]:
        """(phrase with its city filled in, cue key token, city)."""
        city = self.rng.choice(FLIGHT_CITIES)
        phrase = reason.template.replace("{city}", city)
        return phrase, city.lower() if reason.key == "{city}" else reason.key, city

    def _continuation(self, target: str, reason: Reason, city: str, lecture: bool = False) -> str:
        # the lecture's reason always ends at "loan.", as in the lecture
        if lecture or reason.template == LECTURE_REASON:
            return ""
        cont = self.rng.choice(REASON_CONTINUATIONS[target])
        return _fill(self.rng, cont.replace("{city}", city))

    # -- reason + tense ---------------------------------------------------
    def request(self, span: tuple[int, int], band: int, time_word: str, comma: bool,
                lecture: bool = False) -> tuple[str, str]:
        """The request sentence with a reason dep and a tense dep; returns (text, target)."""
        rng = self.rng
        conn = "due to {R}," if lecture else rng.choice(_connectives(self.pool, band))
        if lecture:
            target, reason = "loan", REASONS["loan"][0]
        else:
            target = rng.choice(REASON_TARGETS)
            reason = self._pick_reason(target, span, conn)
        phrase, key, city = self._reason_phrase(reason)
        ptoks = tokenize(phrase)
        key_idx = len(ptoks) - 1 - ptoks[::-1].index(key)
        pre, post = conn.split("{R}")
        head = f"{time_word.capitalize()}{',' if comma else ''} {pre}"
        verb, verb_target = TENSES[time_word]
        vlen = len(verb.split())
        n_prefix = len(tokenize(head)) + len(ptoks) + len(tokenize(post))
        k = len(tokenize(head)) + key_idx
        base_t = n_prefix + 1
        base_r = n_prefix + 1 + vlen + 3 - k
        lo_len, hi_len = _feasible_range((base_t, base_r), span)
        clauses = [] if lecture else self._filler(lo_len, hi_len, sentences=False)
        n_fill = sum(_ntok(c) for c in clauses)
        t_id = self._new_dep("tense", time_word.capitalize(), verb_target, base_t + n_fill)
        r_id = self._new_dep("reason", phrase, target, base_r + n_fill)
        cont = self._continuation(target, reason, city, lecture)
        verb_words = verb.split()
        verb_words[0] = f"\x02t{t_id}\x03" + verb_words[0]
        text = (
            f"\x02c{t_id}\x03{head}{_mark_key(phrase, key, r_id)}{post} "
            f"{' '.join(clauses)}{' ' if clauses else ''}"
            f"I {' '.join(verb_words)} to take a \x02t{r_id}\x03{target}{cont}."
        )
        return text, target

    def _pick_reason(self, target: str, span: tuple[int, int], conn: str) -> Reason:
        """A reason of the target that fits the span, whatever the comma and the tense."""
        cands = [r for r in REASONS[target] if _fits(_request_bases(r, conn), span)]
        return self.rng.choices(cands, [r.weight for r in cands])[0]

    def request_block(self, span: tuple[int, int], band: int,
                      lecture_combo: tuple[str, bool] | None,
                      bare: bool) -> tuple[list[list[str]], list[str], str]:
        """Paragraph(s) of a request: (mandatory paragraphs, optional follow-ups, target)."""
        rng = self.rng
        if lecture_combo is not None:
            time_word, comma = lecture_combo
            sentence, target = self.request(span, band, time_word, comma, lecture=True)
        else:
            time_word = rng.choice(tuple(TENSES))
            comma = rng.random() < 0.35
            sentence, target = self.request(span, band, time_word, comma)
        para = [sentence]
        if not bare and rng.random() < 0.35:
            para.insert(0, self.fill(rng.choice(REQUEST_INTROS)))
        followups = [self.fill(s) for s in rng.sample(REASON_FOLLOWUPS[target], 3)]
        return [para], followups, target

    # -- cross: the reason in a sentence of its own, the request later ----------
    def cross_block(self, span: tuple[int, int]) -> tuple[list[list[str]], list[str], str]:
        """Reason sentence, filler sentences, request: (paragraphs, follow-ups, target)."""
        rng = self.rng
        lo, hi = span
        target = rng.choice(REASON_TARGETS)
        weights = [r.weight for r in REASONS[target]]
        for _ in range(200):
            reason = rng.choices(REASONS[target], weights)[0]
            phrase, key, city = self._reason_phrase(reason)
            cue = rng.choice(CROSS_CUES[self.pool]).replace("{R}", phrase)
            ask = _fill(rng, rng.choice(CROSS_REQUESTS[self.target_pool]))
            ctoks = tokenize(cue)
            base = ctoks[::-1].index(key) + _ntok(ask) + 1  # tokens after the key, then ask
            if base <= hi:
                break
        else:  # pragma: no cover - short frames always fit
            raise RuntimeError("no cross frame fits")
        sents = self._filler(max(0, lo - base), hi - base, sentences=True)
        d = self._new_dep("cross", phrase, target, base + sum(_ntok(s) for s in sents))
        cue_s = _cap(cue.replace(phrase, _mark_key(phrase, key, d)))
        cont = self._continuation(target, reason, city)
        paras: list[list[str]] = [[cue_s]]
        if not sents or rng.random() < 0.5:
            paras[0].insert(0, self.fill(rng.choice(REQUEST_INTROS)))
        for i, s in enumerate(sents):
            if i > 0 and len(sents) > 3 and rng.random() < 0.15:
                paras.append([])
            paras[-1].append(s)
        if sents and rng.random() < 0.4:
            paras.append([])
        paras[-1].append(f"{ask} \x02t{d}\x03{target}{cont}.")
        followups = [self.fill(s) for s in rng.sample(REASON_FOLLOWUPS[target], 3)]
        return paras, followups, target

    # -- entity ---------------------------------------------------------------
    def entity_block(self, span: tuple[int, int], name: str) -> tuple[list[list[str]], list[str]]:
        """Cue sentence, neutral filler, target sentence: (paragraphs, optional after-lines)."""
        rng = self.rng
        lo, hi = span
        cap_name = name.capitalize()
        for _ in range(200):
            cue = _fill(rng, rng.choice(ENTITY_CUES[self.pool]))
            reintro = self.reintroduce and rng.random() < self.reintroduce
            targets = ENTITY_CUES[self.pool] if reintro else ENTITY_TARGETS[self.target_pool]
            tgt = _fill(rng, rng.choice(targets))
            ctoks = tokenize(cue.replace("{P}", cap_name))
            ttoks = tokenize(tgt.replace("{P}", cap_name))
            base = len(ctoks) - ctoks.index(name) + ttoks.index(name)
            if base <= hi:
                break
        else:  # pragma: no cover - frames always allow every band
            raise RuntimeError("no entity frame fits")
        fillers = self._filler(max(0, lo - base), hi - base, sentences=True)
        n_fill = sum(_ntok(s) for s in fillers)
        d = self._new_dep("entity", cap_name, name, base + n_fill)
        cue_s = _cap(cue.replace("{P}", f"\x02c{d}\x03{cap_name}"))
        tgt_s = _cap(tgt.replace("{P}", f"\x02t{d}\x03{cap_name}"))
        paras: list[list[str]] = [[cue_s]]
        for i, s in enumerate(fillers):
            if i > 0 and len(fillers) > 3 and rng.random() < 0.15:
                paras.append([])
            paras[-1].append(s)
        if fillers and rng.random() < 0.4:
            paras.append([])
        paras[-1].append(tgt_s)
        recaps = rng.sample(ENTITY_RECAPS, RECAPS_PER_BLOCK)
        after = [self.fill(s).replace("{P}", cap_name) for s in recaps]
        after += [self.fill(s) for s in rng.sample(ENTITY_AFTER, 2)]
        return paras, after

    # -- topic ------------------------------------------------------------------
    def topic_paragraph(self, topic: Topic, n_details: int, ask: bool) -> list[str]:
        rng = self.rng
        sents = [self.fill(rng.choice(topic.leads))]
        sents += [self.fill(s) for s in rng.sample(topic.details, n_details)]
        if ask:
            sents.append(self.fill(rng.choice(topic.asks)))
        return sents


def _greeting(rng: random.Random, personal: bool) -> str:
    first = rng.choice(FIRST_NAMES)
    form = rng.choice(_GREETINGS["personal" if personal else "business"])
    return form.format(
        f=first,
        g=rng.choice(FIRST_NAMES),
        h=rng.choice(HONORIFICS),
        s=rng.choice(SURNAMES),
        d=_dept_title(rng),
    )


def _dept_title(rng: random.Random) -> str:
    dept = rng.choice(DEPARTMENTS)
    return dept if dept.isupper() else dept.title()


def _signature(rng: random.Random, personal: bool) -> list[str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    if personal:
        return [rng.choice(PERSONAL_SIGN_OFFS), first]
    lines = [rng.choice(SIGN_OFFS)]
    if rng.random() < 0.2:
        lines.append(first)
        return lines
    lines.append(f"{first} {last}")
    if rng.random() < 0.6:
        lines.append(rng.choice(TITLES))
        if rng.random() < 0.75:
            lines.append(rng.choice(COMPANIES))
    if rng.random() < 0.25:
        lines.append(f"{rng.choice(_PHONE_LABELS)}: {_phone(rng)}")
    return lines


# ---------------------------------------------------------------------------
# Corpus level plan: which emails carry which dependency blocks, and in which
# distance band, so that every (kind, band) cell gets the same count.

# Blocks: R (reason + tense), E (entity), C (cross). Shares of the blocks of each band.
_BLOCK_SHARES: tuple[tuple[str, float], ...] = (("R", 0.34), ("E", 0.33), ("C", 0.33))
_TOPIC_ONLY_SHARE = 0.02  # emails without designed dependencies


def _plan(rng: random.Random, n: int) -> list[tuple[str, list[int]]]:
    """(pattern, band per block) per email, e.g. ("RE", [3, 0]); "T" is topic only.

    A 121-200 block fills an email on its own, a 61-120 block shares its email
    with a 1-10 or 11-30 one, the other blocks go in pairs (never two entity
    blocks together): two blocks' bands then reach at most 150 tokens together,
    which leaves room for both under the token limit. Every kind gets
    the same count in every band, so about n / 3 blocks per band fit n emails.
    """
    per_band = int(n * (1 - _TOPIC_ONLY_SHARE) / 3)
    blocks = [(ch, band) for band in range(len(BANDS))
              for ch, share in _BLOCK_SHARES for _ in range(int(round(share * per_band)))]
    rng.shuffle(blocks)
    longest = [b for b in blocks if b[1] == len(BANDS) - 1]
    long = [b for b in blocks if b[1] == len(BANDS) - 2]
    short = [b for b in blocks if b[1] <= 1]
    rest = [b for b in blocks if b[1] == 2]
    emails: list[list[tuple[str, int]]] = [[b] for b in longest]
    for b in long:  # never two entity blocks in one email: each names its own project
        partner = next((i for i in range(len(short) - 1, -1, -1)
                        if (b[0], short[i][0]) != ("E", "E")), None)
        emails.append([b] if partner is None else [b, short.pop(partner)])
    rest += short
    rng.shuffle(rest)
    entity = [b for b in rest if b[0] == "E"]
    other = [b for b in rest if b[0] != "E"]
    while entity and other:
        emails.append([entity.pop(), other.pop()])
    emails += [other[i : i + 2] for i in range(0, len(other), 2)] + [[b] for b in entity]
    for pair in emails:
        rng.shuffle(pair)
    emails += [[] for _ in range(max(0, n - len(emails)))]
    emails = emails[:n]
    rng.shuffle(emails)
    return [("".join(ch for ch, _ in e) or "T", [b for _, b in e]) for e in emails]


def _email(rng: random.Random, pattern: str, bands: list[int],
           lecture_combo: tuple[str, bool] | None, pool: str = "train",
           filler_pool: str | None = None, target_pool: str | None = None, borrow: float = 0.0,
           reintroduce: float = 0.0) -> tuple[str, str, str, list[_Dep], list[str]] | None:
    """One email: (topic, subject, marked body, deps, filler units); None if a block overflows."""
    b = _EmailBuilder(rng, pool, filler_pool, target_pool, borrow, reintroduce)
    topic = rng.choice(ALL_TOPICS)
    while "E" in pattern and topic.name in PERSONAL_TOPICS:  # project news is business mail
        topic = rng.choice(ALL_TOPICS)
    personal = topic.name in PERSONAL_TOPICS
    greeting = "" if lecture_combo is not None or rng.random() < 0.3 else _greeting(rng, personal)
    signature = _signature(rng, personal)
    # a bare email starts directly with the request sentence
    bare = lecture_combo is not None or (
        not greeting and pattern.startswith("R") and rng.random() < 0.6
    )

    def count(parts: list[str]) -> int:
        return sum(_ntok(p) for p in parts)

    # Room is reserved for every dependency block from its band alone, so whatever
    # comes before a cue never depends on what is drawn for that cue's block. A
    # 121-200 block (alone in its email) ends where the room ends.
    used = count([greeting] + signature)
    spans = [BANDS[band] if band < len(BANDS) - 1 else
             (BANDS[band][0], min(BANDS[band][1], MAX_BODY_TOKENS - used - _BLOCK_OVERHEAD))
             for band in bands]
    reserve = [hi + _BLOCK_OVERHEAD for _, hi in spans]
    desired = rng.randint(40, 110)
    pre: list[list[str]] = []
    post: list[list[str]] = []

    def fits(parts: list[str], reserved: int) -> bool:
        return used + count(parts) + reserved <= MAX_BODY_TOKENS

    main = ""
    if pattern == "T":
        for n_det, p_ask, p_para in ((rng.randint(1, 3), 0.6, 1.0), (rng.randint(1, 2), 0.4, 0.55)):
            para = b.topic_paragraph(topic, n_det, rng.random() < p_ask)
            if rng.random() < p_para and fits(para, 0):
                pre.append(para)
                used += count(para)
        main = topic.name
    elif not bare and rng.random() < 0.35:
        para = b.topic_paragraph(topic, rng.randint(1, 3), rng.random() < 0.3)
        if fits(para, sum(reserve)):
            pre.append(para)
            used += count(para)
            main = topic.name
    if not bare and rng.random() < 0.5:
        opener = [b.fill(rng.choice(OPENERS))]
        if fits(opener, sum(reserve)):
            pre.insert(0, opener)
            used += count(opener)

    blocks: list[list[list[str]]] = []
    first_key = ""
    names = rng.sample(PROJECTS, 2)
    n_entity = 0
    for idx, (ch, band) in enumerate(zip(pattern if pattern != "T" else "", bands, strict=True)):
        if ch == "R":
            paras, follow, target = b.request_block(
                spans[idx], band, lecture_combo if idx == 0 else None, bare and idx == 0)
        elif ch == "C":
            paras, follow, target = b.cross_block(spans[idx])
        else:
            paras, follow = b.entity_block(spans[idx], names[n_entity])
            n_entity += 1
            target = ""
        main = main or (_REQUEST_TOPIC[target] if target else "projects")
        first_key = first_key or (f"R:{target}" if target else "E")
        if idx > 0:
            paras[0].insert(0, b.fill(rng.choice(TRANSITIONS)))
        size = sum(count(p) for p in paras)
        if size > reserve[idx]:  # rare: the longest frames, intro and transition drawn at once
            return None
        used += size
        later = sum(reserve[idx + 1 :])
        n_follow = rng.randint(0, 2)
        if ch == "E":  # the recaps come first and are kept whenever they fit
            n_follow = max(n_follow, RECAPS_PER_BLOCK)
        for k, sent in enumerate(follow):
            if (k < n_follow or used < desired) and fits([sent], later):
                paras[-1].append(sent)
                used += count([sent])
        blocks.append(paras)

    if pattern != "T" and used < desired:
        para = b.topic_paragraph(topic, rng.randint(1, 3), rng.random() < 0.5)
        if fits(para, 0):
            post.append(para)
            used += count(para)
    closer = [b.fill(rng.choice(CLOSERS))]
    if (rng.random() < 0.6 or used < desired) and fits(closer, 0):
        post.append(closer)

    paragraphs = [p for p in pre]
    for blk in blocks:
        paragraphs += [p for p in blk if p]
    paragraphs += post
    if pre and bare:
        raise AssertionError("bare emails start with the request")
    text = "\n\n".join(" ".join(p) for p in paragraphs)
    body = (greeting + "\n\n" if greeting else "") + text + "\n\n" + signature[0]
    if len(signature) > 1:
        body += "\n" + "\n".join(signature[1:])

    if pattern == "T" or not blocks:
        subject = b.fill(rng.choice(topic.subjects))
    elif first_key.startswith("R:"):
        subject = _request_subject(rng, first_key[2:])
    else:
        subject = b.fill(rng.choice(_ENTITY_SUBJECTS)).replace("{P}", names[0].capitalize())
    return main, subject, body, b.deps, b.units


_BLOCK_OVERHEAD = 45  # tokens of a block outside its cue-target span (more: drawn again)

_REQUEST_TOPIC = {"loan": "finance", "sick": "hr", "flight": "travel", "vacation": "hr"}


def _request_subject(rng: random.Random, target: str) -> str:
    return rng.choice(_REQUEST_SUBJECTS[target])


def _finalize(marked: str, deps: list[_Dep]) -> tuple[str, list[dict]]:
    """Strip markers and turn them into token indices."""
    clean_parts: list[str] = []
    pos: dict[tuple[str, int], int] = {}
    last = 0
    length = 0
    for m in _MARK_RE.finditer(marked):
        seg = marked[last : m.start()]
        clean_parts.append(seg)
        length += len(seg)
        pos[(m.group(1), int(m.group(2)))] = length
        last = m.end()
    clean_parts.append(marked[last:])
    body = "".join(clean_parts)
    starts = {s: i for i, (s, _) in enumerate(token_spans(body))}
    toks = tokenize(body)
    out = []
    for i, dep in enumerate(deps):
        c, t = starts[pos[("c", i)]], starts[pos[("t", i)]]
        if toks[t] != dep.target or t - c != dep.expected:
            raise AssertionError(f"dependency bookkeeping failed: {dep} in {body!r}")
        out.append(
            {
                "kind": dep.kind,
                "cue": dep.cue,
                "target": dep.target,
                "cue_token": c,
                "target_token": t,
                "distance": t - c,
            }
        )
    out.sort(key=lambda d: (d["cue_token"], KINDS.index(d["kind"])))
    return body, out


def generate(n_emails: int = DEFAULT_N_EMAILS, seed: int = DEFAULT_SEED,
             fillers: set[str] | None = None, *, borrow: float = DEFAULT_BORROW,
             more_frames: bool = True, reintroduce: float = DEFAULT_REINTRODUCE) -> list[dict]:
    """Generate the corpus: a list of dicts with id, topic, subject, body, deps.

    Only the "train" template pool is used (never "heldout"). `fillers`, if given,
    receives every filler unit (clause or sentence between a cue and its target)
    used. `borrow` is the chance that a long filler unit is one of the corpus's own
    neutral topic sentences instead; `more_frames` adds the training phrasings
    listed under "more" to the pool's cue and target frames; `reintroduce` is the
    chance that the sentence that names a project again is one of the pool's
    introductions (the built-in corpus: all three as the defaults are).
    """
    pool = MORE_FRAMES_POOL if more_frames else "train"
    return _generate(n_emails, seed, pool, "e", fillers, "train", lecture=True, borrow=borrow,
                     reintroduce=reintroduce)


def heldout_probe_emails(n_emails: int = DEFAULT_HELDOUT_EMAILS, seed: int = DEFAULT_SEED,
                         fillers: set[str] | None = None, *, frames: str = "heldout",
                         filler: str = "heldout", targets: str | None = None) -> list[dict]:
    """Emails like the corpus' (same fields and `deps`), built from the "heldout" pool only.

    Their cue phrasings, entity frames and filler parts never occur in the
    corpus, so recall on them measures memory of the cue, not of templates.
    Ids are "h00001", ...; the lecture sentence is not among them. `frames` and
    `filler` set the pool of the cue phrasings and frames and that of the filler
    apart, to tell which of the two a model's recall depends on
    (`benchmarks/template_split.py`); `targets`, if given, sets the pool of the
    sentences that ask for a target (the project-news target sentences and the
    cross-sentence requests) apart from the cue's (default: `frames`).
    """
    return _generate(n_emails, seed, frames, "h", fillers, filler, targets=targets)


def _generate(n_emails: int, seed: int, pool: str, prefix: str, fillers: set[str] | None,
              filler_pool: str | None = None, lecture: bool = False,
              targets: str | None = None, borrow: float = 0.0,
              reintroduce: float = 0.0) -> list[dict]:
    """Emails of the plan (`lecture`: some short requests are the lecture's sentence)."""
    rng = random.Random(seed)
    plan = _plan(rng, n_emails)
    lecture_combos = [(tw, comma) for tw in TENSES for comma in (False, True)]
    n_lecture = n_r1 = 0
    seen: set[str] = set()
    emails = []
    for i, (pattern, bands) in enumerate(plan):
        combo = None
        if lecture and pattern.startswith("R") and bands[0] == 1:
            if n_r1 % 20 == 0:
                combo = lecture_combos[n_lecture % len(lecture_combos)]
                n_lecture += 1
            n_r1 += 1
        for _ in range(20):
            built = _email(rng, pattern, bands, combo, pool, filler_pool, targets, borrow,
                           reintroduce)
            if built is None:  # a block without room: draw the email again
                continue
            topic, subject, marked, deps, units = built
            body, dep_dicts = _finalize(marked, deps)
            if body not in seen:
                break
        else:  # pragma: no cover
            raise RuntimeError("could not build a unique email")
        seen.add(body)
        if fillers is not None:
            fillers.update(_strip(u) for u in units)
        if len(tokenize(body)) > MAX_BODY_TOKENS:
            raise AssertionError(f"body longer than {MAX_BODY_TOKENS} tokens: {body!r}")
        if detokenize(tokenize(body)) != " ".join(body.lower().split()):
            raise AssertionError(f"body does not round-trip: {body!r}")
        emails.append({"id": f"{prefix}{i + 1:05d}", "topic": topic, "subject": subject,
                       "body": body, "deps": dep_dicts})
    return emails


def write_corpus(
    path: str | Path = DEFAULT_OUT,
    n_emails: int = DEFAULT_N_EMAILS,
    seed: int = DEFAULT_SEED,
    emails: list[dict] | None = None,
) -> Path:
    """Generate (or take) the emails and write them as deterministic gzipped JSON lines."""
    path = Path(path)
    if emails is None:
        emails = generate(n_emails, seed)
    raw = "".join(json.dumps(e, ensure_ascii=True) + "\n" for e in emails).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: generate the corpus, write it and print the summary table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--n-emails", type=int, default=DEFAULT_N_EMAILS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--borrow-filler", type=float, default=DEFAULT_BORROW, metavar="P",
                        help="chance that a long filler unit is a neutral topic sentence of "
                        f"the corpus (default {DEFAULT_BORROW}: the built-in corpus)")
    parser.add_argument("--more-frames", action=argparse.BooleanOptionalAction, default=True,
                        help="add the training phrasings listed under \"more\" in the "
                        "templates to the cue and target frames (default: on, the built-in "
                        "corpus)")
    parser.add_argument("--reintroduce", type=float, default=DEFAULT_REINTRODUCE, metavar="P",
                        help="chance that the sentence that names a project again is one of "
                        "the introductions (default "
                        f"{DEFAULT_REINTRODUCE}: the built-in corpus)")
    args = parser.parse_args(argv)
    for name, value in (("--borrow-filler", args.borrow_filler),
                        ("--reintroduce", args.reintroduce)):
        if not 0 <= value < 1:
            parser.error(f"{name} must be at least 0 and below 1")
    start = time.perf_counter()
    fillers: set[str] = set()
    emails = generate(args.n_emails, args.seed, fillers, borrow=args.borrow_filler,
                      more_frames=args.more_frames, reintroduce=args.reintroduce)
    path = write_corpus(args.out, args.n_emails, args.seed, emails=emails)
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    print(format_summary(summarize(emails, fillers)))


if __name__ == "__main__":
    main()
