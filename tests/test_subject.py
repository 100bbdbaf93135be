"""Subject context: the texts a model reads, and training on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from click.testing import CliRunner
from test_train import tiny_emails

from autocomplete import artifacts
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
