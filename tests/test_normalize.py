"""Private values never reach a model: placeholders before training, none in a completion.

E-mail addresses, URLs, phone numbers and long or account-like numbers become
placeholder tokens in the training text (unless `keep_numbers`); short
numbers stay; completion never suggests a placeholder, whatever the model
predicts; `prepare` says how many of each kind it replaced.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import make_model_dir

from autocomplete.corpus.normalize import kinds, normalize, normalize_emails, placeholders
from autocomplete.decoding import Completer
from autocomplete.tokens import tokenize

SECRET = "My bank account number is 4817 2263 9051 and the PIN is 7314."


@pytest.mark.parametrize("text,expected,kind", [
    ("mail jo.smith+hr@mail.example.co.uk today", "mail xxemail today", "email"),
    ("write to mailto:ann@enron.com.", "write to xxemail.", "email"),
    ("see https://example.com/reset?t=a1b2, then", "see xxurl, then", "url"),
    ("at www.enron.com/hr.", "at xxurl.", "url"),
    ("call 713-853-1234 now", "call xxphone now", "phone"),
    ("call (713) 853-1234 now", "call xxphone now", "phone"),
    ("call +44 20 7946 0958 now", "call xxphone now", "phone"),
    ("Tel.: 555-0102", "Tel.: xxphone", "phone"),
    ("order #10257 shipped", "order #xxnumber shipped", "number"),
    ("ref 1234567890123", "ref xxnumber", "number"),
    ("card 1234-5678-9012-3456 expires", "card xxnumber expires", "number"),
    ("account 4817 2263 9051 is", "account xxnumber is", "number"),
    ("SSN 123-45-6789.", "SSN xxnumber.", "number"),
    ("the PIN is 7314.", "the PIN is xxnumber.", "number"),
    ("account number: 042", "account number: xxnumber", "number"),
    ("ID12345 and x", "xxnumber and x", "number"),
])
def test_each_kind_becomes_its_placeholder(text, expected, kind):
    new, counts = normalize(text)
    assert new == expected
    assert counts == Counter({kind: 1})


@pytest.mark.parametrize("text", [
    "Pay $121.50 by the 11th at 4 pm.",
    "On 2024-01-15 at 10:30, 3/4 of the team met in room 12.",
    "The 2019-2020 budget is $36,000, not $1,234,567 or $100000.",
    "Invoice INV-4095, ticket #7744, pi is 3.14159, about 12.5% or 4,250 units.",
    "We need 2 flights on May 3rd and 10 rooms for 3 nights.",
])
def test_short_numbers_dates_and_amounts_stay(text):
    assert normalize(text) == (text, Counter())


def test_counts_and_single_tokens():
    new, counts = normalize(SECRET + " Mail ann@x.org or bob@y.com, call 713-853-1234 or "
                            "see http://a.io/b.")
    assert counts == Counter({"number": 2, "email": 2, "phone": 1, "url": 1})
    assert new.startswith("My bank account number is xxnumber and the PIN is xxnumber.")
    assert set(kinds()) == {"email", "url", "phone", "number"}
    for token in placeholders():
        assert tokenize(token) == [token]
    # a placeholder next to letters or digits is spaced off, so it stays one token
    glued, _ = normalize("id1234567890x, tel:5550102")
    assert "xxnumber" in tokenize(glued)


def test_normalize_emails_counts_over_a_corpus_and_moves_dependencies():
    body = "Call 713-853-1234 today. Tomorrow I will need to take a loan."
    tokens = tokenize(body)
    dep = {"kind": "tense", "cue": "Tomorrow", "target": "will",
           "cue_token": tokens.index("tomorrow"), "target_token": tokens.index("will"),
           "distance": 2}
    df = pd.DataFrame({"id": ["a", "b"], "body": [body, "Nothing to see."],
                       "deps": [[dep], []]})
    out, counts = normalize_emails(df)
    assert counts == Counter({"phone": 1})
    assert out["body"].tolist() == ["Call xxphone today. Tomorrow I will need to take a loan.",
                                    "Nothing to see."]
    assert df["body"].iloc[0] == body  # the input is left alone
    moved = out["deps"].iloc[0][0]
    new_tokens = tokenize(out["body"].iloc[0])
    assert new_tokens[moved["cue_token"]] == "tomorrow"
    assert new_tokens[moved["target_token"]] == "will" and moved["distance"] == 2
    assert moved["cue_token"] == dep["cue_token"] - 4  # "713 - 853 - 1234": 5 tokens -> 1


# -- the training pipeline ---------------------------------------------------------------
def _emails_with_secrets(n: int = 40) -> pd.DataFrame:
    rows = []
    for i in range(n):
        body = (f"hi mark, my account number is {48172263 + i} and my mail is "
                f"mark{i}@example.com. thanks for the update.")
        rows.append({"id": f"s{i}", "subject": "s", "body": body, "deps": []})
    return pd.DataFrame(rows)


def test_keep_numbers_leaves_the_text_unchanged():
    from autocomplete.train import TrainConfig, prepare_data

    emails = _emails_with_secrets()
    data = prepare_data(TrainConfig(keep_numbers=True, window=32), emails)
    seen = pd.concat(data["splits"].values())["body"]
    assert sorted(seen) == sorted(emails["body"]) and data["normalized"] == {}
    assert "48172263" in data["vocab"] and not placeholders() & set(data["vocab"])


def test_training_replaces_private_values_and_records_it(tmp_path):
    from test_train import tiny_config

    from autocomplete import artifacts
    from autocomplete.train import train

    out = train(tiny_config(tmp_path, epochs=1), verbose=0, emails=_emails_with_secrets())
    vocab = artifacts.read_vocab(out)
    assert {"xxnumber", "xxemail"} <= set(vocab)
    assert not any(any(ch.isdigit() for ch in token) for token in vocab)
    assert not any(token.startswith("mark") and token != "mark" for token in vocab)
    config = artifacts.read_config(out)
    assert config["keep_numbers"] is False
    assert config["normalized"] == {"number": 40, "email": 40}


def test_train_command_has_the_keep_numbers_switch(monkeypatch, tmp_path):
    import autocomplete.train
    from autocomplete.commands.train import train as train_command

    seen = []

    def fake_training(cfg, **kw):
        seen.append(cfg)
        raise ValueError("stop here")

    monkeypatch.setattr(autocomplete.train, "train", fake_training)
    runner = CliRunner()
    assert "--keep-numbers" in runner.invoke(train_command, ["--help"]).output
    for args, keep in (([], False), (["--keep-numbers"], True)):
        result = runner.invoke(train_command, [*args, "--out", str(tmp_path / "m")])
        assert result.exit_code == 1 and "stop here" in result.output
        assert seen.pop().keep_numbers is keep


def test_the_report_scores_the_text_each_model_was_trained_on(tmp_path):
    from autocomplete.report import compare
    from autocomplete.textprep import corpus_fingerprint

    emails = _emails_with_secrets(20)
    base = {"cell": "lstm", "seed": 0, "corpus_sha256": corpus_fingerprint(emails)}
    infos = [compare.ModelInfo(label=label, cell="lstm", path=tmp_path / label, config=config,
                               metrics={}, vocab=["", "[UNK]", "[start]", "hi"], history=None)
             for label, config in (("normalized", base | {"keep_numbers": False}),
                                   ("before normalization", base))]
    groups, _ = compare._group_models(infos, emails, True, lambda *args: None)
    assert len(groups) == 2
    text = {g.models[0].label: " ".join(pd.concat([g.train_df, g.test_df])["body"])
            for g in groups}
    assert "xxnumber" in text["normalized"] and "48172263" not in text["normalized"]
    assert "48172263" in text["before normalization"] and "xx" not in text["before normalization"]


# -- completion never suggests a placeholder ---------------------------------------------
VOCAB = ["", "[UNK]", "[start]", "is", "xxnumber", "xxphone", "the", "total", ".", "xxurl"]
ID = {t: i for i, t in enumerate(VOCAB)}
NEXT = {"is": {"xxnumber": 0.6, "xxphone": 0.2, "the": 0.1}, "xxnumber": {".": 0.9},
        "the": {"total": 0.8}, "total": {".": 0.3, "xxnumber": 0.6}}


class PlaceholderModel:
    """A Markov model whose likeliest next token after "is" is a placeholder."""

    vocab, window = VOCAB, None

    def __init__(self):
        table = np.full((len(VOCAB), len(VOCAB)), 1e-3)
        for prev, row in NEXT.items():
            for tok, p in row.items():
                table[ID[prev], ID[tok]] = p
        self.logp = np.log(table / table.sum(axis=1, keepdims=True))

    def initial_state(self, batch):
        return [np.zeros((batch, 1))]

    def step(self, token_ids, state):
        return self.logp[np.asarray(token_ids)], state


@pytest.mark.parametrize("method", ["greedy", "beam", "sample"])
def test_search_never_emits_a_placeholder(method):
    completer = Completer(PlaceholderModel())
    for seed in range(5 if method == "sample" else 1):
        out = completer.complete("the total is", method=method, beam=3, seed=seed)
        assert out.tokens and not placeholders() & set(out.tokens)
        assert "xx" not in out.text
    assert completer.complete("the total is", method="greedy").tokens[:2] == ["the", "total"]
    typed = completer.complete("the total is xx", partial_word=True)
    assert typed.text == "" and "no word in the vocabulary starts with 'xx'" in typed.reason


@pytest.fixture(scope="module")
def placeholder_model_dir(tmp_path_factory):
    """A real model directory whose output always favours "xxnumber" by far."""
    from autocomplete import artifacts
    from autocomplete.fastpath import export_inference

    path = make_model_dir(tmp_path_factory.mktemp("ph") / "models" / "lstm")
    vocab = artifacts.read_vocab(path)
    at = vocab.index("loan")
    vocab[at] = "xxnumber"
    artifacts.write_vocab(path / "vocab.txt", vocab)
    model = artifacts.load_keras_model(path)
    bias = model.get_layer("logits").bias
    bias.assign(np.where(np.arange(len(vocab)) == at, 30.0, 0.0).astype("float32"))
    model.save(path / "model.keras")
    export_inference(path, model)
    return path


def test_complete_and_serve_never_show_a_placeholder(placeholder_model_dir):
    from autocomplete.commands.complete import complete
    from autocomplete.fastpath import load_step_model
    from autocomplete.serve.app import create_app, load_engines

    model = load_step_model(placeholder_model_dir)
    logp, _ = model.step(np.array([2], np.int32), model.initial_state(1))
    assert model.vocab[int(np.argmax(logp[0]))] == "xxnumber"  # what the model wants
    prompt = "my current job situation "
    for flag in ("--greedy", "--beam=3"):
        result = CliRunner().invoke(complete, [prompt, "--model", str(placeholder_model_dir),
                                               flag, "--json"])
        assert result.exit_code == 0, result.output
        answer = json.loads(result.stdout)
        assert answer["tokens"] and "xxnumber" not in answer["tokens"]
        assert "xx" not in answer["completion"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from starlette.testclient import TestClient
    engines = load_engines(model_dir=placeholder_model_dir)
    with TestClient(create_app(engines)) as client:
        body = client.post("/v1/complete", json={"text": prompt}).json()
    assert body["tokens"] and "xxnumber" not in body["tokens"] and "xx" not in body["completion"]


# -- prepare -----------------------------------------------------------------------------
def test_prepare_reports_what_it_replaced(tmp_path):
    from autocomplete.commands.prepare import prepare

    rows = [f"Hi Ann, the refund of $12.50 goes to account {4817226390 + i} today. "
            f"Mail me at ann{i}@example.com or call 713-853-{1000 + i} on the 11th."
            for i in range(3)]
    corpus = tmp_path / "mail.csv"
    pd.DataFrame({"text": rows}).to_csv(corpus, index=False)
    result = CliRunner().invoke(prepare, [str(corpus), "--no-progress", "--show", "3"])
    assert result.exit_code == 0, result.output
    table = dict(line.rsplit(None, 1) for line in result.stdout.splitlines()
                 if line.startswith("replaced: "))
    assert {k.strip(): v for k, v in table.items()} == {
        "replaced: email": "3", "replaced: url": "0", "replaced: phone": "3",
        "replaced: number": "3"}
    assert "xxnumber" in result.stdout and "4817226390" not in result.stdout
    assert "$12.50" in result.stdout and "11th" in result.stdout
    kept = CliRunner().invoke(prepare, [str(corpus), "--no-progress", "--keep-numbers"])
    assert kept.exit_code == 0 and "replaced:" not in kept.stdout
    assert "48172263" in kept.stdout

