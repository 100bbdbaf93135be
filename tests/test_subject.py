"""Subject context: the texts a model reads, training on them, decoding after a subject,
the separator never suggested, probes and scores on the body's tokens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import make_model_dir
from test_train import tiny_emails

from autocomplete import artifacts
from autocomplete.decoding import Completer, encode_prompt, never_suggested
from autocomplete.textprep import body_offsets, model_texts, subjects_of
from autocomplete.tokens import START_ID, SUBJECT_SEPARATOR, subject_prefix, tokenize

EMAILS = pd.DataFrame({
    "subject": ["Loan request", "", None, "Re: call 713-853-1234"],
    "body": ["I need to take a loan.", "Thanks, Mark", "Hi Anna,", "Call me back."],
})


def with_subjects(n: int) -> pd.DataFrame:
    """`tiny_emails(n)` with three subjects of two words each ("topic 0" .. "topic 2")."""
    emails = tiny_emails(n)
    emails["subject"] = [f"Topic {i % 3}" for i in range(n)]
    return emails


def test_model_texts_put_the_subject_and_the_separator_before_the_body():
    assert model_texts(EMAILS, subjects=False) == EMAILS["body"].tolist()
    texts = model_texts(EMAILS, subjects=True)
    assert texts[:3] == ["Loan request xxbody I need to take a loan.", "xxbody Thanks, Mark",
                         "xxbody Hi Anna,"]  # no subject (empty or missing): the separator
    offsets = body_offsets(EMAILS, subjects=True)
    assert offsets == [3, 1, 1, 9] and body_offsets(EMAILS, subjects=False) == [0] * 4
    for text, subject, body, offset in zip(texts, subjects_of(EMAILS), EMAILS["body"], offsets,
                                           strict=True):
        tokens = tokenize(text)
        assert tokens == subject_prefix(subject) + tokenize(body)
        assert tokens[offset - 1] == SUBJECT_SEPARATOR and tokens[offset:] == tokenize(body)
    # a corpus without subjects: every email is one without a subject
    assert model_texts(EMAILS[["body"]], True) == [f"xxbody {b}" for b in EMAILS["body"]]
    assert subjects_of(EMAILS) == ["Loan request", "", "", "Re: call 713-853-1234"]


def test_subjects_are_normalized_only_when_the_model_reads_them():
    from autocomplete.corpus.normalize import normalize_emails

    plain, counts = normalize_emails(EMAILS)
    assert plain["subject"].iloc[3] == "Re: call 713-853-1234" and counts["phone"] == 0
    read, counts = normalize_emails(EMAILS, subjects=True)
    assert read["subject"].iloc[3] == "Re: call xxphone" and counts["phone"] == 1
    assert pd.isna(read["subject"].iloc[2]) and read["body"].tolist() == plain["body"].tolist()


def test_subject_training_windows_hold_subject_separator_body():
    from autocomplete.train import TrainConfig, prepare_data

    emails = with_subjects(40)
    data = prepare_data(TrainConfig(window=32, subject=True), emails)
    vocab = data["vocab"]
    sep, topic = vocab.index(SUBJECT_SEPARATOR), vocab.index("topic")
    x, y, _ = data["windows"]["train"]
    rows = np.concatenate([x, y[:, -1:]], axis=1)
    starts = np.argwhere(rows == START_ID)
    assert len(starts) == len(data["splits"]["train"]) == (rows == sep).sum()
    for r, c in starts:  # every email: [start] topic <digit> xxbody hi ...
        assert rows[r, c + 1] == topic and vocab[rows[r, c + 2]] in "012"
        assert rows[r, c + 3] == sep and vocab[rows[r, c + 4]] == "hi"
    default = prepare_data(TrainConfig(window=32), emails)  # the default reads bodies only
    assert SUBJECT_SEPARATOR not in default["vocab"] and "topic" not in default["vocab"]


def test_train_subject_records_it_and_learns_the_separator(tmp_path):
    from autocomplete.commands.train import train as train_command
    from autocomplete.train import TrainConfig

    corpus = tmp_path / "mail.csv"
    emails = with_subjects(40)
    emails["text"] = emails["body"] + [f" ref {i}." for i in range(40)]
    emails[["subject", "text"]].to_csv(corpus, index=False)
    args = ["--corpus", str(corpus), "--units", "8", "--embedding-dim", "8", "--window", "32",
            "--batch-size", "16", "--updates", "2", "--no-grad-stats", "--quiet"]
    result = CliRunner().invoke(train_command, [*args, "--subject", "--out",
                                                str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert artifacts.read_config(tmp_path / "s")["subject"] is True
    vocab = artifacts.read_vocab(tmp_path / "s")
    assert {SUBJECT_SEPARATOR, "topic"} <= set(vocab)
    assert TrainConfig().subject is False  # off by default: the default run is unchanged
    result = CliRunner().invoke(train_command, [*args, "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert artifacts.read_config(tmp_path / "b")["subject"] is False
    assert not {SUBJECT_SEPARATOR, "topic"} & set(artifacts.read_vocab(tmp_path / "b"))


# -- decoding ------------------------------------------------------------------------------
VOCAB = ["", "[UNK]", "[start]", "hi", "mark", ",", ".", SUBJECT_SEPARATOR, "xxphone"]


class FavouriteStepModel:
    """Whatever the context, the separator is by far the likeliest next token (then "hi",
    "mark", "."); the state records every id fed."""

    vocab, window = VOCAB, 16

    def __init__(self) -> None:
        p = np.full(len(VOCAB), 1e-3)
        p[VOCAB.index(SUBJECT_SEPARATOR)] = 0.9
        p[VOCAB.index("xxphone")] = 0.05
        p[[3, 4, 6]] = [0.02, 0.015, 0.01]
        self.logp = np.log(p / p.sum())
        self.fed: list[int] = []

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, 1))]

    def step(self, token_ids, state):
        self.fed += [int(t) for t in np.asarray(token_ids)]
        return np.tile(self.logp, (len(token_ids), 1)), state


def test_encode_prompt_reads_the_subject_first_and_keeps_the_fragment():
    ids, info = encode_prompt("Hi ma", VOCAB, partial_word=True, subject="Mark")
    assert ids == [START_ID, 4, 7, 3] and info["fragment"] == "ma"
    assert info["prompt_tokens"] == 4  # mark, xxbody, hi and the fragment
    assert encode_prompt("hi", VOCAB, subject="")[0] == [START_ID, 7, 3]
    assert encode_prompt("hi", VOCAB)[0] == [START_ID, 3]  # no subject: as before


@pytest.mark.parametrize("method", ["greedy", "beam", "sample"])
def test_the_separator_is_never_suggested(method):
    model = FavouriteStepModel()
    assert VOCAB[int(np.argmax(model.logp))] == SUBJECT_SEPARATOR  # what an unmasked search picks
    completer = Completer(model, subjects=True)
    for subject in ("Hi", "", None):
        c = completer.complete("hi", method=method, seed=0, max_words=4, subject=subject)
        assert c.tokens and SUBJECT_SEPARATOR not in c.tokens and "xxphone" not in c.tokens
    assert completer.words_starting_with("xxb") is None  # nor does a fragment finish as it
    assert SUBJECT_SEPARATOR in never_suggested()


def test_the_subject_reaches_the_model_and_a_subjectless_one_refuses_it():
    model = FavouriteStepModel()
    Completer(model, subjects=True).complete("hi", method="greedy", subject="Mark, hi")
    assert model.fed[:6] == [START_ID, 4, 5, 3, 7, 3]  # [start] mark , hi xxbody hi
    with pytest.raises(ValueError, match="trained without subjects"):
        Completer(FavouriteStepModel()).complete("hi", subject="Mark")


def test_blend_never_suggests_the_separator(tmp_path):
    """The n-gram of a subject-trained model has seen the separator after [start]."""
    from autocomplete.blend import BlendStepModel, BlendWeights
    from autocomplete.cache import ContinuousCache
    from autocomplete.fastpath import export_inference, load_step_model
    from autocomplete.ngram import KneserNeyLM

    path = make_model_dir(tmp_path / "gru", "gru", subject=True, favour=SUBJECT_SEPARATOR)
    export_inference(path)
    neural = load_step_model(path)
    vocab = neural.vocab
    sep = vocab.index(SUBJECT_SEPARATOR)
    ngram = KneserNeyLM(order=3).fit([[START_ID, sep, sep, sep, vocab.index("thanks")]] * 3,
                                     vocab)
    blend = BlendStepModel(neural, ngram, ContinuousCache(theta=1.0, lam=0.0, keys="tokens"),
                           BlendWeights(0.5, 0.3, 0.2))
    logp, _ = blend.prefill(np.array([START_ID, sep, vocab.index("thanks")], dtype=np.int32))
    assert int(np.argmax(logp[0])) == sep  # unmasked, the blend would write it
    completer = Completer(blend, subjects=True)
    for method in ("greedy", "beam", "sample"):
        c = completer.complete("thanks for the", method=method, seed=1, subject="hi mark")
        assert c.tokens and SUBJECT_SEPARATOR not in c.tokens


# -- tuning, probes and scores on the body's tokens ------------------------------------------
def test_tune_fits_the_ngram_on_the_texts_the_model_reads(tiny_model_dir):
    """The blend's n-gram of a subject-trained model has read "[start] <subject> xxbody"."""
    import json

    from autocomplete.cli import cli
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.fastpath import export_inference
    from autocomplete.ngram import KneserNeyLM
    from autocomplete.textprep import corpus_fingerprint

    model_dir = tiny_model_dir("gru", subject=True)
    export_inference(model_dir)
    config = artifacts.read_config(model_dir)
    config.update(corpus=None, corpus_sha256=corpus_fingerprint(load_builtin()), seed=0)
    artifacts.write_json(model_dir / "config.json", config)
    result = CliRunner().invoke(cli, ["tune", str(model_dir), "--emails", "4", "--order", "3"])
    assert result.exit_code == 0, result.output
    ngram = KneserNeyLM.load(model_dir / "ngram.npz")
    index = {t: i for i, t in enumerate(ngram.vocab)}
    # the subject "Sick day" is followed by the separator (on bodies alone: p < 1e-6)
    sick_day = ngram.next_probs([[START_ID, index["sick"], index["day"]]])[0]
    assert sick_day[index[SUBJECT_SEPARATOR]] > 0.05
    result = CliRunner().invoke(cli, ["complete", "thanks for the", "--model", str(model_dir),
                                      "--subject", "Loan request", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["engine"] == "blend" and data["subject"] == "Loan request"
    assert data["tokens"] and SUBJECT_SEPARATOR not in data["tokens"]


def test_probe_cue_and_target_land_on_their_tokens_after_the_subject():
    from autocomplete.corpus import generator as g
    from autocomplete.evaluate.probes import build_probes
    from autocomplete.tokens import SPECIALS

    emails = pd.DataFrame(g.generate(30, seed=3))
    assert emails["subject"].str.len().gt(0).all()
    texts = dict(zip(emails["id"], model_texts(emails, subjects=True), strict=True))
    vocab = list(SPECIALS) + sorted({t for text in texts.values() for t in tokenize(text)})
    index = {t: i for i, t in enumerate(vocab)}
    plain = build_probes(emails, vocab)
    probes = build_probes(emails, vocab, subjects=True)
    assert len(probes) == len(plain) > 0
    offsets = dict(zip(emails["id"], body_offsets(emails, subjects=True), strict=True))
    bodies = emails.set_index("id")["body"]
    for p, before in zip(probes.itertuples(), plain.itertuples(), strict=True):
        assert (p.email_id, p.kind, p.cue, p.target) == \
            (before.email_id, before.kind, before.cue, before.target)
        tokens, body = tokenize(texts[p.email_id]), tokenize(bodies[p.email_id])
        k = offsets[p.email_id]
        # the body's positions, moved past the subject's tokens and the separator
        assert (p.cue_token, p.target_token) == (before.cue_token + k, before.target_token + k)
        assert tokens[p.cue_token] == body[before.cue_token]
        assert tokens[p.target_token] == body[before.target_token] == p.target.lower()
        # the context is what the model reads before the target, subject first
        assert p.context == [START_ID] + [index[t] for t in tokens[: p.target_token]]
        assert vocab[p.context[p.cue_token + 1]] == body[before.cue_token]
        assert vocab[p.context[k]] == SUBJECT_SEPARATOR and p.distance == before.distance


def test_scores_from_a_start_leave_the_subject_out(tiny_model_dir):
    from autocomplete.evaluate import metrics as em
    from autocomplete.evaluate.keras_lm import KerasLM
    from autocomplete.evaluate.scoring import neural_perplexity_and_accuracy

    lm = KerasLM(tiny_model_dir("gru"))  # window 32: the long sequences take the cut path
    rng = np.random.default_rng(0)
    seqs = [np.concatenate([[2], rng.integers(1, len(lm.vocab), n)]) for n in (3, 31, 45)]
    starts = [3, 30, 40]  # the first scored target of each
    fast = neural_perplexity_and_accuracy(lm, seqs, token_budget=40, starts=starts)
    slow = em.perplexity_and_accuracy(lm, seqs, starts=starts)
    assert fast["tokens"] == slow["tokens"] == (3 - 2) + (31 - 29) + (45 - 39)
    assert fast["perplexity"] == pytest.approx(slow["perplexity"], rel=1e-4)
    # the same figures as scoring only those positions one by one
    logp = [np.asarray(lm.next_logprobs([list(s[max(0, p - 256) : p])]))[0, s[p]]
            for s, first in zip(seqs, starts, strict=True) for p in range(first, len(s))]
    assert slow["perplexity"] == pytest.approx(float(np.exp(-np.mean(logp))), rel=1e-4)
    assert em.perplexity_and_accuracy(lm, seqs, starts=[1, 1, 1]) == \
        em.perplexity_and_accuracy(lm, seqs)


def test_exact_match_cuts_only_the_body():
    from autocomplete.evaluate.metrics import exact_match_at_n

    seqs = [[START_ID] + list(range(3, 23))] * 4
    contexts: list[int] = []

    def completer(context: list[int]) -> list[int]:
        contexts.append(len(context))
        return []

    exact_match_at_n(completer, seqs, n_max=5, n_cuts=200, starts=[12] * 4)
    assert min(contexts) == 13  # [start], 11 subject tokens and at least one body token
    assert max(contexts) == len(seqs[0]) - 5
    contexts.clear()
    exact_match_at_n(completer, seqs, n_max=5, n_cuts=200)
    assert min(contexts) == 2


def test_report_scores_every_model_on_the_body_tokens(tmp_path):
    """A model trained with subjects and one without, side by side: the same targets."""
    from autocomplete.corpus.builtin import load_builtin
    from autocomplete.fastpath import export_inference
    from autocomplete.report import compare
    from autocomplete.textprep import split_by_email

    emails = load_builtin().iloc[:200].reset_index(drop=True)
    plain = make_model_dir(tmp_path / "lstm", "lstm")
    read = make_model_dir(tmp_path / "gru", "gru", subject=True, favour=SUBJECT_SEPARATOR)
    for path in (plain, read):
        export_inference(path)
    results = compare.evaluate_models([plain, read], quick=True, emails=emails,
                                      strict_corpus=False, progress=False)
    summary = results.summary.set_index("model")
    assert len(summary) == 4  # each model with the n-gram of its own texts
    test = split_by_email(emails, seed=0)["test"]  # as written: no keep_numbers in config.json
    body_tokens = sum(len(tokenize(b)) for b in test["body"])
    assert summary["tokens"].tolist() == [body_tokens] * 4
    assert not results.completions["text"].str.contains(SUBJECT_SEPARATOR).any()
    probes = results.recall.groupby("model")["n"].sum()
    assert probes.nunique() == 1 and probes.iloc[0] > 0  # the same probes, moved for gru
    assert any("gru read each email's subject" in note for note in results.notes)
