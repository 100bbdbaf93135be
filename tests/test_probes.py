"""Long-range probes: built from the given rows only, cue at the stated distance,
recall scored correctly on a model whose memory we design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autocomplete.evaluate import START_ID, NextTokenModel
from autocomplete.evaluate.probes import (
    build_probes,
    probe_counts,
    recall_at_distance,
    summarize_recall,
)
from autocomplete.tokens import SPECIALS, tokenize

FILLER = "we should keep working on the plan".split()


def fill(n: int) -> str:
    """n neutral filler tokens."""
    return " ".join(FILLER[i % len(FILLER)] for i in range(n))


def dep(body: str, kind: str, cue: str, target: str) -> dict:
    """A dependency record as the corpus writes it: first cue, first target after it."""
    tokens = tokenize(body)
    cue_at = tokens.index(cue)
    target_at = tokens.index(target, cue_at + 1)
    return {
        "kind": kind,
        "cue": cue,
        "target": target,
        "cue_token": cue_at,
        "target_token": target_at,
        "distance": target_at - cue_at,
    }


E1 = f"Yesterday I {fill(3)} was at the office. Anna sent the report and {fill(12)} thanks anna."
E2 = (
    f"Tomorrow we {fill(2)} will meet. The flight is late so {fill(40)} the meeting is delayed. "
    f"Tom says hi, {fill(70)} regards, Tom"
)
E3 = (f"I was sick {fill(20)} so I stayed home. Bob called {fill(130)} bob. Max: {fill(205)} max. "
      f"Zork: {fill(3)} zork")
E4 = f"Soon we shall meet {fill(5)} the zebra. Zebra"  # never passed to build_probes

ROWS = [
    ("e1", E1, [("tense", "yesterday", "was"), ("entity", "anna", "anna")]),
    ("e2", E2, [("tense", "tomorrow", "will"), ("reason", "flight", "delayed"),
                ("entity", "tom", "tom")]),
    ("e3", E3, [("reason", "sick", "home"), ("entity", "bob", "bob"),
                ("entity", "max", "max"), ("entity", "zork", "zork")]),
    ("e4", E4, [("tense", "soon", "shall"), ("entity", "zebra", "zebra")]),
]  # fmt: skip


def corpus() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"id": eid, "topic": "t", "subject": "s", "body": body,
             "deps": [dep(body, *spec) for spec in specs]}
            for eid, body, specs in ROWS
        ]
    )  # fmt: skip


def vocabulary() -> list[str]:
    """Every token of every email except "zork" (so its target is OOV)."""
    words = dict.fromkeys(t for _, body, _ in ROWS for t in tokenize(body) if t != "zork")
    return list(SPECIALS) + list(words)


@pytest.fixture
def probes() -> pd.DataFrame:
    return build_probes(corpus().iloc[:3], vocabulary())


def test_expected_distances_fall_in_intended_bands(probes: pd.DataFrame) -> None:
    got = {(r.email_id, r.kind): str(r.band) for r in probes.itertuples()}
    assert got == {
        ("e1", "tense"): "1-10",
        ("e1", "entity"): "11-30",
        ("e2", "tense"): "1-10",
        ("e2", "reason"): "31-60",
        ("e2", "entity"): "61-120",
        ("e3", "reason"): "11-30",
        ("e3", "entity"): "121-200",
    }
    # max (distance > 200) and zork (OOV target) are skipped and counted
    assert probes.attrs["skipped"] == {"oov_target": 1, "out_of_band": 1, "no_alternatives": 0}


def test_cue_sits_at_stated_distance(probes: pd.DataFrame) -> None:
    vocab = vocabulary()
    index = {t: i for i, t in enumerate(vocab)}
    for p in probes.itertuples():
        tokens = tokenize(corpus().set_index("id").loc[p.email_id, "body"])
        assert p.context == [START_ID] + [index.get(t, 1) for t in tokens[: p.target_token]]
        # id sequence = [start] + token ids: token i is at position i + 1
        assert vocab[p.context[p.cue_token + 1]] == p.cue
        assert len(p.context) - (p.cue_token + 1) == p.distance
        assert vocab[p.target_id] == p.target
    # literally, for e1: "yesterday i we should keep | was": cue 5 tokens back
    e1 = probes[(probes.email_id == "e1") & (probes.kind == "tense")].iloc[0]
    assert [vocab[i] for i in e1.context] == ["[start]", "yesterday", "i", "we", "should", "keep"]
    assert e1.distance == 5


def test_alternatives_come_from_given_rows_only(probes: pd.DataFrame) -> None:
    vocab = vocabulary()
    assert set(probes.email_id) == {"e1", "e2", "e3"}
    alt_words = {
        kind: {vocab[i] for alts in group.alternatives for i in alts}
        for kind, group in probes.groupby("kind")
    }
    # e4's "shall" and "zebra" are in vocab but not in the given rows; max
    # counts as an alternative although its own probe was out of band.
    assert alt_words == {
        "tense": {"was", "will"},
        "entity": {"anna", "tom", "bob", "max"},
        "reason": {"delayed", "home"},
    }
    for p in probes.itertuples():
        assert p.target_id not in p.alternatives
        assert p.chance == pytest.approx(1 / (1 + len(p.alternatives)))
    counts = probe_counts(probes)
    assert list(counts.columns) == ["1-10", "11-30", "31-60", "61-120", "121-200"]
    assert counts.loc["tense"].tolist() == [2, 0, 0, 0, 0]
    assert counts.loc["entity"].tolist() == [0, 1, 0, 1, 1]
    assert counts.values.sum() == len(probes)


def test_max_per_cell_samples_reproducibly() -> None:
    df, vocab = corpus().iloc[:3], vocabulary()
    a = build_probes(df, vocab, max_per_cell=1, seed=3)
    b = build_probes(df, vocab, max_per_cell=1, seed=3)
    assert probe_counts(a).values.max() == 1
    assert len(a) == 6  # the two tense probes in 1-10 become one
    pd.testing.assert_frame_equal(a, b)


def test_target_mismatch_fails_loudly() -> None:
    df = corpus().iloc[:1].copy()
    df.at[0, "deps"] = [{**df.at[0, "deps"][0], "target_token": 2}]
    with pytest.raises(ValueError, match="not the target"):
        build_probes(df, vocabulary())


class HorizonModel:
    """Designed outputs: recalls the cue iff it is fewer than `horizon` tokens back.

    Within the horizon the target gets log-probability 0 (top-1 and above every
    alternative); beyond it the first alternative does.
    """

    def __init__(self, vocab: list[str], probes: pd.DataFrame, horizon: int) -> None:
        self.vocab = vocab
        self.horizon = horizon
        self.answers = {tuple(p.context): p for p in probes.itertuples()}

    def next_logprobs(self, contexts: list[list[int]]) -> np.ndarray:
        out = np.full((len(contexts), len(self.vocab)), -10.0)
        for row, ctx in zip(out, contexts, strict=True):
            p = self.answers[tuple(ctx)]
            row[p.target_id if p.distance < self.horizon else p.alternatives[0]] = 0.0
        return out


class FlatModel:
    """The same log-probability for every token: every comparison is a tie."""

    def __init__(self, vocab: list[str]) -> None:
        self.vocab = vocab

    def next_logprobs(self, contexts: list[list[int]]) -> np.ndarray:
        return np.full((len(contexts), len(self.vocab)), -np.log(len(self.vocab)))


def test_recall_follows_designed_memory(probes: pd.DataFrame) -> None:
    model = HorizonModel(vocabulary(), probes, horizon=30)
    assert isinstance(model, NextTokenModel)
    results = recall_at_distance(model, probes, batch_size=2)
    assert results.correct.tolist() == (results.distance < 30).tolist()
    assert results.top1.tolist() == (results.distance < 30).tolist()
    pd.testing.assert_frame_equal(results, recall_at_distance(model, probes))

    summary = summarize_recall(results)
    overall = summary[summary.kind == "all"].set_index("band")
    assert overall.recall.to_dict() == {"1-10": 1.0, "11-30": 1.0, "31-60": 0.0, "61-120": 0.0,
                                        "121-200": 0.0}
    assert overall.n.to_dict() == {"1-10": 2, "11-30": 2, "31-60": 1, "61-120": 1, "121-200": 1}
    assert overall.loc["11-30", "chance"] == pytest.approx((1 / 4 + 1 / 2) / 2)
    tense = summary[(summary.kind == "tense")]
    assert tense[["band", "n", "recall", "top1", "chance"]].values.tolist() == [
        ["1-10", 2, 1.0, 1.0, 0.5]
    ]


def test_ties_are_not_correct(probes: pd.DataFrame) -> None:
    results = recall_at_distance(FlatModel(vocabulary()), probes)
    assert not results.correct.any()
    assert not results.top1.any()
    assert summarize_recall(results).recall.max() == 0.0


def test_generated_probes_sit_where_the_metadata_says() -> None:
    """Corpus and held-out-template emails: every kind, the 121-200 band included, has
    probes, and each probe's cue and target are the tokens its `deps` record names."""
    from autocomplete.corpus import generator as g

    emails = pd.DataFrame(g.generate(60, seed=5) + g.heldout_probe_emails(60, seed=5))
    vocab = list(SPECIALS) + sorted({t for body in emails.body for t in tokenize(body)})
    probes = build_probes(emails, vocab)
    counts = probe_counts(probes)
    assert set(counts.index) == set(g.KINDS)
    assert (counts["121-200"] > 0).all() and counts.values.sum() == len(probes)
    bodies = emails.set_index("id")["body"]
    for p in probes.itertuples():
        tokens = tokenize(bodies[p.email_id])
        assert vocab[p.target_id] == p.target == tokens[p.target_token]
        assert len(p.context) == p.target_token + 1  # [start] + the tokens before the target
        assert vocab[p.context[p.cue_token + 1]] == tokens[p.cue_token]
        if p.kind in ("tense", "entity"):
            assert tokens[p.cue_token] == p.cue.lower()
        else:  # the key word of the reason phrase
            assert tokens[p.cue_token] in tokenize(p.cue)
