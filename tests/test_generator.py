"""Tests of the built-in corpus generator, the committed corpus file and its loader."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from autocomplete.corpus import fillers as fl
from autocomplete.corpus import generator as g
from autocomplete.corpus import summary
from autocomplete.corpus import template_data as td
from autocomplete.corpus.builtin import BUILTIN_PATH, load_builtin
from autocomplete.tokens import detokenize, tokenize

TENSE_TARGET = {"today": "need", "yesterday": "needed", "tomorrow": "will"}
CITY_RE = "(?:" + "|".join(g.FLIGHT_CITIES) + ")"
REASON_PATTERNS = [
    (target, reason, re.compile(re.escape(reason.template).replace(r"\{city\}", CITY_RE) + "$"))
    for target, reasons in g.REASONS.items()
    for reason in reasons
]
KEY_TOKENS = {r.key for rs in g.REASONS.values() for r in rs if r.key != "{city}"} | {
    c.lower() for c in g.FLIGHT_CITIES
}
ALL_TARGETS = set(g.REASON_TARGETS) | set(TENSE_TARGET.values()) | set(g.PROJECTS)
# tokens no filler may hold: time words, targets, reason keys (flight cities too), projects
NOT_NEUTRAL = set(TENSE_TARGET) | ALL_TARGETS | KEY_TOKENS | {"need", "take"}
CITY_NAMES = [" ".join(tokenize(c)) for c in td.CITIES]


def _neutral(text: str) -> bool:
    """No time word, target, reason key, project or city name in the text."""
    spaced = f" {' '.join(tokenize(text))} "
    return not set(tokenize(text)) & NOT_NEUTRAL and not any(
        f" {c} " in spaced for c in CITY_NAMES)


@pytest.fixture(scope="module")
def small() -> list[dict]:
    return g.generate(300, seed=1)


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    df = load_builtin()
    return df.to_dict("records")


def _reason_of(cue: str) -> tuple[str, g.Reason]:
    matches = [(t, r) for t, r, pat in REASON_PATTERNS if pat.match(cue)]
    assert len(matches) == 1, cue
    return matches[0]


def check_deps(emails: list[dict]) -> None:
    """Metadata matches the text for every dependency."""
    for e in emails:
        toks = tokenize(e["body"])
        for d in e["deps"]:
            c, t = d["cue_token"], d["target_token"]
            assert 0 <= c < t < len(toks), (e["id"], d)
            assert d["distance"] == t - c
            assert toks[t] == d["target"]
            between = set(toks[c + 1 : t])
            if d["kind"] == "tense":
                assert toks[c] == d["cue"].lower()
                assert d["target"] == TENSE_TARGET[d["cue"].lower()]
                assert toks[t - 1] == "i"  # same local context for every tense
                assert not between & set(TENSE_TARGET), (e["id"], d)
            elif d["kind"] in ("reason", "cross"):
                target, reason = _reason_of(d["cue"])
                assert d["target"] == target
                key = reason.key if reason.key != "{city}" else tokenize(d["cue"])[-1]
                assert toks[c] == key
                ptoks = tokenize(d["cue"])
                k = len(ptoks) - 1 - ptoks[::-1].index(key)
                assert toks[c - k : c - k + len(ptoks)] == ptoks
                assert toks[t - 3 : t] == ["to", "take", "a"]  # same for every target
                # nothing between cue and target names another target or reason key
                assert not between & (set(g.REASON_TARGETS) | (KEY_TOKENS - {key})), (e["id"], d)
                if d["kind"] == "cross":  # the reason ends its own sentence before the request
                    assert "." in toks[c + 1 : t], (e["id"], d)
            else:
                assert d["kind"] == "entity"
                assert d["target"] in g.PROJECTS
                assert toks[c] == d["target"] == d["cue"].lower()
                assert not between & set(g.PROJECTS), (e["id"], d)
                assert toks[t - 1] not in ALL_TARGETS


@pytest.fixture(scope="module")
def heldout() -> list[dict]:
    return g.heldout_probe_emails(300, seed=1)


def test_generate_is_deterministic(small: list[dict]) -> None:
    assert g.generate(300, seed=1) == small
    assert g.generate(300, seed=2) != small


def test_write_corpus_is_byte_identical(tmp_path) -> None:
    a = g.write_corpus(tmp_path / "a.jsonl.gz", n_emails=120, seed=3)
    b = g.write_corpus(tmp_path / "b.jsonl.gz", n_emails=120, seed=3)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime 0
    lines = gzip.decompress(a.read_bytes()).decode().splitlines()
    assert len(lines) == 120


def test_committed_corpus_regenerates_byte_identical(tmp_path) -> None:
    out = g.write_corpus(tmp_path / "emails.jsonl.gz", g.DEFAULT_N_EMAILS, g.DEFAULT_SEED)
    assert out.read_bytes() == BUILTIN_PATH.read_bytes()


def test_fields_and_ids(small: list[dict]) -> None:
    for i, e in enumerate(small):
        assert list(e) == ["id", "topic", "subject", "body", "deps"]
        assert e["id"] == f"e{i + 1:05d}"
        assert e["topic"] and e["subject"] and e["body"]
        for d in e["deps"]:
            assert list(d) == ["kind", "cue", "target", "cue_token", "target_token", "distance"]
    assert len({e["body"] for e in small}) == len(small)


def test_dependency_metadata_small(small: list[dict]) -> None:
    check_deps(small)
    kinds = Counter(d["kind"] for e in small for d in e["deps"])
    assert set(kinds) == set(g.KINDS)
    assert kinds["reason"] == kinds["tense"]


def test_round_trip_small(small: list[dict]) -> None:
    for e in small:
        assert detokenize(tokenize(e["body"])) == " ".join(e["body"].lower().split())
        assert len(tokenize(e["body"])) < 250


def test_lecture_sentence_small(small: list[dict]) -> None:
    assert any(e["body"].startswith(g.LECTURE_SENTENCE) for e in small)


def test_cross_sentence_kind_and_every_band(small: list[dict]) -> None:
    """Every kind, cross included, has dependencies in every band, 121-200 too."""
    cells = Counter((d["kind"], summary.band_of(d["distance"])) for e in small for d in e["deps"])
    assert None not in {b for _, b in cells}
    assert all(cells[(k, b)] > 0 for k in g.KINDS for b in range(len(g.BANDS))), cells
    assert g.BANDS[-1] == (121, 200)
    cross = [(e, d) for e in small for d in e["deps"] if d["kind"] == "cross"]
    # the request comes in a later sentence: "... <reason>. <sentences> So I need to take a"
    for e, d in cross:
        toks = tokenize(e["body"])
        assert toks[d["target_token"] - 3 : d["target_token"]] == ["to", "take", "a"]
        assert "." in toks[d["cue_token"] : d["target_token"]]


def test_fillers_are_composed_and_many(small: list[dict]) -> None:
    """The filler between cues and targets is composed: over 1,000 distinct units in 300 emails."""
    units: set[str] = set()
    assert g.generate(300, seed=1, fillers=units) == small
    assert len(units) >= 1_000
    pool = g.FILLER_POOLS["train"]
    assert fl.distinct_units(pool, pool.sentence_forms) > 100_000


def test_borrowed_filler_is_neutral_topic_text(small: list[dict]) -> None:
    """With `borrow`, some filler units are the corpus's own topic sentences, none naming a
    time word, target, reason key, project, month or city; the dependencies hold as before."""
    units: set[str] = set()
    emails = g.generate(300, seed=1, fillers=units, borrow=0.3)
    check_deps(emails)
    assert emails != small  # the default (`small`): test_generate_is_deterministic
    patterns = [re.compile(re.sub(r"\\\{[a-z_]+\d*\\\}", ".+", re.escape(d.rstrip(".!?"))),
                           re.IGNORECASE) for t in g.ALL_TOPICS for d in t.details]
    borrowed = [u for u in units if any(p.fullmatch(u.rstrip(".!?,")) for p in patterns)]
    assert len(borrowed) > 100, len(borrowed)
    excluded = set(g.load_templates("fillers")["borrow_excluded_words"])
    months = {m.lower() for m in td.MONTHS}
    for unit in borrowed:
        assert _neutral(unit) and not set(tokenize(unit)) & (excluded | months), unit


@pytest.mark.parametrize("pool", g.POOLS)
def test_filler_parts_are_neutral(pool: str) -> None:
    """No filler part or composed unit names a time word, target, reason key, city or project."""
    import random

    data = g.load_templates("fillers")
    for part, values in data[pool].items():
        for text in values:
            assert _neutral(text), (pool, part, text)
    rng, fp = random.Random(0), g.FILLER_POOLS[pool]
    for make in (fl.clause, fl.sentence, fl.short_clause, fl.short_sentence):
        for _ in range(500):
            text = td.fill(rng, make(rng, fp))
            assert _neutral(text), text
            assert detokenize(tokenize(text)) == " ".join(text.lower().split())


def test_train_and_heldout_pools_are_disjoint() -> None:
    data = g.load_templates("fillers")
    for part in fl.PART_NAMES:
        assert not set(data["train"][part]) & set(data["heldout"][part]), part
    for table in (g.REQUEST_CONNECTIVES, g.CROSS_CUES, g.CROSS_REQUESTS, g.ENTITY_CUES,
                  g.ENTITY_TARGETS):
        assert len(table["train"]) >= 3 and len(table["heldout"]) >= 3
        assert not set(table["train"]) & set(table["heldout"])
        assert not set(table[g.MORE_FRAMES_POOL]) & set(table["heldout"])
    assert "due to {R}," in g.REQUEST_CONNECTIVES["train"]  # the lecture's phrasing


def test_heldout_probe_emails(heldout: list[dict], small: list[dict]) -> None:
    """Same fields and metadata as corpus emails, every kind and band, no training filler."""
    assert g.heldout_probe_emails(300, seed=1) == heldout
    check_deps(heldout)
    for i, e in enumerate(heldout):
        assert list(e) == ["id", "topic", "subject", "body", "deps"]
        assert e["id"] == f"h{i + 1:05d}"
        assert len(tokenize(e["body"])) < 250
    cells = Counter((d["kind"], summary.band_of(d["distance"])) for e in heldout
                    for d in e["deps"])
    assert all(cells[(k, b)] > 0 for k in g.KINDS for b in range(len(g.BANDS))), cells
    train_units: set[str] = set()
    heldout_units: set[str] = set()
    g.generate(300, seed=1, fillers=train_units)
    g.heldout_probe_emails(300, seed=1, fillers=heldout_units)
    assert heldout_units and not train_units & heldout_units
    assert not any(g.LECTURE_SENTENCE in e["body"] for e in heldout)


def test_probe_emails_take_frames_and_filler_from_pools_apart() -> None:
    """Frames from one pool and filler from the other: each part from its own pool."""
    def cue_phrasings(emails: list[dict]) -> set[str]:
        text = " ".join(" ".join(tokenize(e["body"])) for e in emails)
        return {pool for pool in g.POOLS for conn in g.REQUEST_CONNECTIVES[pool]
                if " ".join(tokenize(conn.split("{R}")[0])) and
                f" {' '.join(tokenize(conn.split('{R}')[0]))} " in f" {text} "}

    train_units: set[str] = set()
    g.heldout_probe_emails(200, seed=2, fillers=train_units, frames="train", filler="train")
    mixed: set[str] = set()
    emails = g.heldout_probe_emails(200, seed=2, fillers=mixed, frames="train",
                                    filler="heldout")
    check_deps(emails)
    assert mixed and not mixed & train_units  # the filler: held-out parts only
    assert cue_phrasings(emails) == {"train"}  # the cue phrasings: the training pool's
    assert not any(g.LECTURE_SENTENCE in e["body"] for e in emails)  # the corpus' only


def test_probe_emails_take_cue_and_target_frames_from_pools_apart() -> None:
    """Cue frames from one pool and target frames from the other: every cross-sentence
    request and project-news target sentence from its pool, every cue sentence from its."""
    def pools_used(emails: list[dict], tables: tuple[dict, ...]) -> set[str]:
        """The pools of the templates that occur whole (a slot: a few words of a sentence)."""
        text = " ".join(f" {' '.join(tokenize(e['body']))} " for e in emails)
        def pattern(template: str) -> re.Pattern[str]:
            parts = re.split(r"\{[A-Za-z_0-9]+\}", template)
            return re.compile(r"[^.!?]{1,80}?".join(re.escape(" ".join(tokenize(c)))
                                                    for c in parts))
        return {pool for table in tables for pool in g.POOLS for t in table[pool]
                if pattern(t).search(text)}

    for cues, targets in (("train", "heldout"), ("heldout", "train")):
        emails = g.heldout_probe_emails(200, seed=2, frames=cues, filler="train",
                                        targets=targets)
        check_deps(emails)
        assert pools_used(emails, (g.CROSS_REQUESTS, g.ENTITY_TARGETS)) == {targets}
        assert pools_used(emails, (g.CROSS_CUES, g.ENTITY_CUES)) == {cues}


def _literal_chunks(template: str) -> list[str]:
    """The template's text between slots, as space-joined tokens."""
    return [" ".join(tokenize(c)) for c in re.split(r"\{[A-Za-z_0-9]+\}", template)
            if tokenize(c)]


def _heldout_templates() -> list[str]:
    """Every held-out filler part, cue phrasing and frame, slots left in."""
    templates = [t for part in g.load_templates("fillers")["heldout"].values() for t in part]
    return templates + [t for table in (g.REQUEST_CONNECTIVES, g.CROSS_CUES, g.CROSS_REQUESTS,
                                        g.ENTITY_CUES, g.ENTITY_TARGETS)
                        for t in table["heldout"]]


def test_heldout_pool_never_in_the_corpus(corpus: list[dict], heldout: list[dict]) -> None:
    """No held-out filler part or cue phrasing occurs in any email of the shipped corpus
    (training, validation and test split alike), so no held-out filler does either."""
    text = " | ".join(" ".join(tokenize(e["body"])) for e in corpus)
    text = f" {text} "
    for template in _heldout_templates():
        # the longest literal part: for a phrasing, the words around the reason phrase
        chunk = max(_literal_chunks(template), key=lambda c: len(c.split()))
        assert f" {chunk} " not in text, (template, chunk)
    # and, directly, no sentence of a held-out probe email's filler is a corpus sentence
    sentences = {s for e in corpus for s in summary.split_sentences(e["body"])}
    units: set[str] = set()
    g.heldout_probe_emails(300, seed=1, fillers=units)
    assert not {u for u in units if u[-1] in ".!"} & sentences


def test_more_frames_add_training_phrasings(small: list[dict]) -> None:
    """The corpus draws its cue and target frames from the "train" phrasings and those
    under "more" (their slots filled): the dependencies hold, the extra phrasings occur, and
    no held-out phrasing does; `more_frames=False` leaves the extra phrasings out."""
    emails = small  # the default: more_frames=True
    check_deps(emails)

    def spaced(mail: list[dict]) -> str:
        return f" {' | '.join(' '.join(tokenize(e['body'])) for e in mail)} "

    text = spaced(emails)
    extra = [max(_literal_chunks(t), key=lambda c: len(c.split()))
             for table in (g.REQUEST_CONNECTIVES, g.CROSS_CUES, g.CROSS_REQUESTS,
                           g.ENTITY_CUES, g.ENTITY_TARGETS)
             for t in table[g.MORE_FRAMES_POOL][len(table["train"]):]]
    extra = [c for c in extra if len(c.split()) >= 3]
    assert len(extra) > 30
    found = [c for c in extra if f" {c} " in text]
    assert len(found) > len(extra) // 2, (len(found), len(extra))
    fewer = spaced(g.generate(300, seed=1, more_frames=False))
    # a few of the extra phrasings' longest literal parts are ordinary text ("came up ,")
    assert len([c for c in found if f" {c} " in fewer]) < len(found) // 4
    for template in _heldout_templates():
        chunk = max(_literal_chunks(template), key=lambda c: len(c.split()))
        assert f" {chunk} " not in text, (template, chunk)


def _frame_pattern(template: str) -> re.Pattern[str]:
    """The template as a pattern over space-joined tokens, any text in its slots."""
    parts = re.split(r"\{[A-Za-z_0-9]+\}", template)
    return re.compile(" ?.+? ?".join(re.escape(" ".join(tokenize(p))) for p in parts) + "$")


def _target_sentences(emails: list[dict]) -> list[str]:
    """The sentence (as space-joined tokens) around each project-name target."""
    out = []
    for e in emails:
        toks = tokenize(e["body"])
        for d in (d for d in e["deps"] if d["kind"] == "entity"):
            start = end = d["target_token"]
            while start > 0 and toks[start - 1] not in {".", "?", "!"}:
                start -= 1
            while toks[end] not in {".", "?", "!"}:
                end += 1
            out.append(" ".join(toks[start : end + 1]))
    return out


def test_projects_are_introduced_again(small: list[dict]) -> None:
    """About a quarter of the sentences that name a project again read as an introduction,
    so an introduction is not always a project's first mention; none with reintroduce=0."""
    intros = [_frame_pattern(t) for t in g.ENTITY_CUES[g.MORE_FRAMES_POOL]]
    targets = [_frame_pattern(t) for t in g.ENTITY_TARGETS[g.MORE_FRAMES_POOL]]

    def share(emails: list[dict]) -> float:
        sentences = _target_sentences(emails)
        assert len(sentences) > 100
        assert all(any(p.search(s) for p in intros + targets) for s in sentences)
        return sum(any(p.search(s) for p in intros) for s in sentences) / len(sentences)

    assert abs(share(small) - g.DEFAULT_REINTRODUCE) < 0.08
    assert share(g.generate(300, seed=1, reintroduce=0.0)) == 0


def test_heldout_pool_words_are_known(corpus: list[dict]) -> None:
    """Every word of the held-out pool is an ordinary word of the corpus (in at least five
    of its emails, so in any training split's vocabulary): held-out probes are new
    sentences of known words, and recall on them measures memory, not unknown words."""
    emails_with: Counter[str] = Counter()
    for e in corpus:
        emails_with.update(set(tokenize(e["body"])))
    for template in _heldout_templates():
        for word in " ".join(_literal_chunks(template)).split():
            assert emails_with[word] >= 5, (template, word)


def test_block_without_room_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dependency block longer than the room reserved for it redraws its email instead
    of failing the generation; the emails that come out are whole and their deps right."""
    redraws = 0
    email = g._email

    def counting(*args, **kwargs):
        nonlocal redraws
        built = email(*args, **kwargs)
        redraws += built is None
        return built

    monkeypatch.setattr(g, "_BLOCK_OVERHEAD", 28)  # too little room for some blocks
    monkeypatch.setattr(g, "_email", counting)
    emails = g.heldout_probe_emails(300, seed=1)
    assert redraws > 0 and len(emails) == 300
    check_deps(emails)


def test_no_tensorflow_import() -> None:
    code = (
        "import sys, autocomplete.corpus.generator, autocomplete.corpus.builtin;"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_writes_file(tmp_path, capsys) -> None:
    out = tmp_path / "cli.jsonl.gz"
    g.main(["--seed", "4", "--n-emails", "60", "--out", str(out)])
    assert out.exists()
    assert "deps per kind x band" in capsys.readouterr().out


@pytest.mark.parametrize("option", ["--borrow-filler", "--reintroduce"])
@pytest.mark.parametrize("value", ["-0.1", "1"])
def test_cli_rejects_shares_outside_0_1(tmp_path, capsys, option: str, value: str) -> None:
    out = tmp_path / "cli.jsonl.gz"
    with pytest.raises(SystemExit) as exc:
        g.main([option, value, "--n-emails", "60", "--out", str(out)])
    assert exc.value.code == 2
    assert f"{option} must be at least 0 and below 1" in capsys.readouterr().err
    assert not out.exists()


def test_load_builtin_columns() -> None:
    df = load_builtin()
    assert list(df.columns) == ["id", "topic", "subject", "body", "deps"]
    assert isinstance(df["deps"].iloc[0], list)
    assert df["id"].is_unique


def test_committed_corpus_counts(corpus: list[dict]) -> None:
    stats = summary.summarize(corpus)
    assert stats["emails"] >= 12_000
    assert stats["words"] >= 1_300_000
    # enough training examples in every kind and band cell; entity has the fewest
    assert all(n >= 1_500 for n in stats["cells"].values()), stats["cells"]
    assert stats["max_distance"] >= 190
    assert set(stats["cells"]) == {f"{k}/{lo}-{hi}" for k in g.KINDS for lo, hi in g.BANDS}
    assert 3_000 <= stats["distinct_tokens"] <= 8_000
    assert stats["top_sentence_share"] < 0.005
    assert stats["share_bodies_over_250"] == 0
    assert len({e["body"] for e in corpus}) == len(corpus)


def test_most_loan_requests_end_at_loan_as_the_lecture_does(corpus: list[dict]) -> None:
    """The lecture's completion ends at "loan.", and so do most of the corpus's loan requests."""
    after = [m.group(1) for e in corpus for m in re.finditer(r"take a loan(\S?)", e["body"])]
    assert len(after) > 1_000
    assert sum(a == "." for a in after) / len(after) >= 0.75


def test_committed_corpus_dependencies(corpus: list[dict]) -> None:
    check_deps(corpus)
    for e in corpus:
        assert detokenize(tokenize(e["body"])) == " ".join(e["body"].lower().split())
    with_comma = g.LECTURE_SENTENCE.replace("Today due", "Today, due")
    assert any(g.LECTURE_SENTENCE in e["body"] for e in corpus)
    assert any(with_comma in e["body"] for e in corpus)
    # verbatim, with or without the comma, several times
    assert sum(g.LECTURE_SENTENCE in e["body"] or with_comma in e["body"] for e in corpus) >= 3
    assert any(e["body"].startswith(g.LECTURE_SENTENCE) for e in corpus)
    for time_word, verb in (("Yesterday", "needed"), ("Tomorrow", "will need")):  # the variants
        variant = g.LECTURE_SENTENCE.replace("Today", time_word).replace("I need", f"I {verb}")
        assert any(variant in e["body"] for e in corpus), variant


def _chi2(table: Counter, rows: list, cols: list) -> float:
    total = sum(table.values())
    rsum = {r: sum(table[(r, c)] for c in cols) for r in rows}
    csum = {c: sum(table[(r, c)] for r in rows) for c in cols}
    return sum(
        (table[(r, c)] - rsum[r] * csum[c] / total) ** 2 / (rsum[r] * csum[c] / total)
        for r in rows
        for c in cols
    )


def test_time_word_independent_of_reason(corpus: list[dict]) -> None:
    """Time word and reason target are independent, and so are target and band."""
    pairs: Counter[tuple[str, str]] = Counter()
    bands: Counter[tuple[str, int | None]] = Counter()
    for e in corpus:
        tense = [d for d in e["deps"] if d["kind"] == "tense"]
        reason = [d for d in e["deps"] if d["kind"] == "reason"]
        for dt, dr in zip(tense, reason, strict=True):
            assert dt["cue_token"] < dr["cue_token"] < dt["target_token"] < dr["target_token"]
            pairs[(dt["cue"].lower(), dr["target"])] += 1
            bands[(dr["target"], summary.band_of(dr["distance"]))] += 1
    targets = list(g.REASON_TARGETS)
    # chi-square critical values at p = 0.001: df 6 -> 22.46, df 12 -> 32.91
    assert _chi2(pairs, list(TENSE_TARGET), targets) < 22.46, pairs
    assert _chi2(bands, targets, list(range(len(g.BANDS)))) < 32.91, bands
    for n in pairs.values():  # and close to uniform
        assert abs(n - sum(pairs.values()) / 12) < 0.15 * sum(pairs.values()) / 12


def test_entity_recaps_follow_the_target(small: list[dict]) -> None:
    """The project is named again after its target (never before it), and only that one."""
    blocks = mentions = 0
    for e in small:
        toks = tokenize(e["body"])
        for d in (d for d in e["deps"] if d["kind"] == "entity"):
            later = [t for t in toks[d["target_token"] + 1 :] if t in g.PROJECTS]
            assert set(later) <= {d["target"]}, (e["id"], d)
            assert len(later) <= g.RECAPS_PER_BLOCK
            blocks += 1
            mentions += len(later)
    # the recaps are dropped only when the email has no room left
    assert blocks and mentions >= 0.9 * g.RECAPS_PER_BLOCK * blocks, (mentions, blocks)


TEMPLATE_FILES = ["entity", "fillers", "frame", "reasons", "requests", "slot_values", "topics"]


def test_templates_load_from_package_data() -> None:
    """The tables come from templates/*.json, which pyproject.toml ships as package data."""
    folder = resources.files("autocomplete.corpus") / "templates"
    names = sorted(f.name[: -len(".json")] for f in folder.iterdir() if f.name.endswith(".json"))
    assert names == TEMPLATE_FILES
    for name in names:
        assert g.load_templates(name) == json.loads((folder / f"{name}.json").read_text("utf-8"))
        assert g.load_templates(name) is g.load_templates(name)  # read once
    assert g.FILLER_POOLS["train"].parts["objects"] == tuple(
        g.load_templates("fillers")["train"]["objects"])
    assert g.ENTITY_CUES["heldout"] == tuple(g.load_templates("entity")["cues"]["heldout"])
    assert g.FIRST_NAMES == td.SLOT_VALUES["first"] and td.SLOTS["first"]
    assert [t.name for t in g.ALL_TOPICS] == [t["name"] for t in g.load_templates("topics")]
    assert g.REASONS["loan"][0] == g.Reason(g.LECTURE_REASON, "job", 4)
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]["autocomplete.corpus"]
    assert "templates/*.json" in package_data


def test_template_slots_are_known() -> None:
    """Every {slot} in a template has a value; greetings use their own format fields."""

    def strings(obj: object) -> list[str]:
        if isinstance(obj, str):
            return [obj]
        if isinstance(obj, dict):
            obj = list(obj.values())
        return [s for v in obj for s in strings(v)] if isinstance(obj, list) else []

    for name in TEMPLATE_FILES:
        data = g.load_templates(name)
        if name == "frame":
            data = {k: v for k, v in data.items() if k != "greetings"}
        if name == "fillers":  # the forms name parts ({subject}); the parts name slots
            data = {pool: data[pool] for pool in g.POOLS}
        for text in strings(data):
            for m in td.SLOT_RE.finditer(text):
                assert m.group(1) in td.SLOTS, (name, text)


def test_generator_module_is_logic_only() -> None:
    """The tables live in templates/, so generator.py holds the logic only."""
    assert len(Path(g.__file__).read_text().splitlines()) <= 900
