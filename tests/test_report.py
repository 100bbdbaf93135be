"""`autocomplete report`: every file written, tables printed, JSON, missing cells."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from autocomplete.commands.report import report
from autocomplete.evaluate import metrics as em
from autocomplete.evaluate.ngram import KneserNeyLM, NgramStepModel
from autocomplete.evaluate.scoring import neural_perplexity_and_accuracy, step_greedy_completer
from autocomplete.report import compare

N_EMAILS = 300


@pytest.fixture(scope="module")
def emails() -> pd.DataFrame:
    from autocomplete.corpus.builtin import load_builtin

    return load_builtin().iloc[:N_EMAILS].reset_index(drop=True)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, emails):
    """Two tiny cells trained for one epoch (lstm left out: the report must name it)."""
    from autocomplete.train import TrainConfig, train

    root = tmp_path_factory.mktemp("report") / "models"
    for cell, grad_stats in (("simple_rnn", True), ("gru", False)):
        train(TrainConfig(cell=cell, out=str(root / cell), epochs=1, units=8, embedding_dim=8,
                          window=64, batch_size=32, grad_stats=grad_stats), verbose=0,
              emails=emails)
    return root


def _invoke(*args: str):
    return CliRunner().invoke(report, list(args), catch_exceptions=False)


def test_report_quick_writes_every_file_and_prints_tables(models_dir, emails, tmp_path,
                                                          monkeypatch):
    import autocomplete.train

    monkeypatch.setattr(autocomplete.train, "load_emails", lambda corpus, text_column=None: emails)
    captured = {}
    evaluate = compare.evaluate_models

    def keep(*a, **kw):
        captured["results"] = evaluate(*a, **kw)
        return captured["results"]

    monkeypatch.setattr(compare, "evaluate_models", keep)
    out = tmp_path / "reports"
    result = _invoke("--models-dir", str(models_dir), "--out", str(out), "--quick")
    assert result.exit_code == 0, result.output

    # the terminal: summary (one row per model + the n-gram), recall by distance, probe counts
    stdout = result.stdout
    for text in ("Summary", "Recall by distance", "Probes per kind", "chance", "61-120",
                 "121-200", "ngram-4", "simple_rnn", "gru", "EM@5", "Completions",
                 "seen templates (test split) / held-out templates",
                 "Held-out-template probes per kind"):
        assert text in stdout
    # the missing cell is named with the command that trains it
    assert "missing cells: lstm" in result.stderr
    assert f"autocomplete train --cell lstm --out {models_dir / 'lstm'}" in result.stderr

    names = ["compare.md", "compare.html", "recall_by_distance.png", "grad_flow.png",
             "training_curves.png", "recall_seen_vs_heldout.png"]
    for name in names:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in names[2:]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    md = (out / "compare.md").read_text()
    assert "| model | parameters | training time | epochs | test perplexity | top-1 | top-5 |" in md
    assert ("| model | 1-10 tokens | 11-30 tokens | 31-60 tokens | 61-120 tokens "
            "| 121-200 tokens |") in md
    assert ("| kind | model | 1-10 tokens | 11-30 tokens | 31-60 tokens | 61-120 tokens "
            "| 121-200 tokens |") in md
    assert "(recall_seen_vs_heldout.png)" in md
    assert "| chance |" in md and "| ngram-4 |" in md
    assert "![" in md and "(recall_by_distance.png)" in md
    assert "Today due to my current job situation and family condition, I" in md

    page = (out / "compare.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!data:)[^"'\s>]""", page)
    assert "<script" not in page and "<link" not in page
    assert page.count('src="data:image/png;base64,') == 4
    assert "<table>" in page and "ngram-4" in page

    # --json: one document with everything (re-uses the evaluation above: same code path)
    monkeypatch.setattr(compare, "evaluate_models", lambda *a, **kw: captured["results"])
    result = _invoke("--models-dir", str(models_dir), "--out", str(tmp_path / "j"), "--quick",
                     "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"settings", "summary", "recall", "recall_table", "probe_counts", "completions",
            "notes", "files", "missing_cells", "recall_heldout",
            "probe_counts_heldout"} <= set(doc)
    assert [r["model"] for r in doc["summary"]] == ["simple_rnn", "gru", "ngram-4"]
    assert doc["missing_cells"] == ["lstm"]
    assert "chance" in doc["recall_table"] and set(doc["recall_table"]["gru"]) == {
        "1-10", "11-30", "31-60", "61-120", "121-200"}
    # the held-out-template probes: every model, every kind (cross included) and band
    heldout = pd.DataFrame(doc["recall_heldout"])
    assert set(heldout["model"]) == {"simple_rnn", "gru", "ngram-4"}
    assert {"reason", "tense", "entity", "cross", "all"} <= set(heldout["kind"])
    assert set(heldout["band"]) == {"1-10", "11-30", "31-60", "61-120", "121-200"}
    assert heldout["recall"].between(0, 1).all()
    assert all(n > 0 for row in doc["probe_counts_heldout"].values() for n in row.values())
    assert doc["settings"]["heldout_probes"] == sum(
        n for row in doc["probe_counts_heldout"].values() for n in row.values())
    memory = captured["results"].memory_table()
    assert list(memory.columns[:2]) == [("1-10", "seen"), ("1-10", "held-out")]
    assert memory.index[0] == ("all", "simple_rnn")
    row = doc["summary"][0]
    assert row["perplexity"] > 1 and 0 <= row["top1"] <= row["top5"] <= 1
    assert 0 <= row["em5"] <= row["em1"] <= 1 and row["latency_p90_ms"] >= 0
    assert row["grad_ratio"] is not None and doc["summary"][1]["grad_ratio"] is None
    assert len(doc["completions"]) == 5 * 3


def test_report_without_models_names_the_missing_cells(tmp_path):
    result = CliRunner().invoke(report, ["--models-dir", str(tmp_path / "none"), "--out",
                                         str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "simple_rnn, lstm, gru" in result.output
    assert "autocomplete report --train" in result.output
    assert f"autocomplete train --cell gru --out {tmp_path / 'none' / 'gru'}" in result.output
    assert not (tmp_path / "r").exists()


def test_report_train_trains_missing_cells_with_the_default_work(tmp_path, monkeypatch):
    import autocomplete.train

    configs = []
    monkeypatch.setattr(autocomplete.train, "train", lambda cfg, **kw: configs.append(cfg))
    result = CliRunner().invoke(report, ["--models-dir", str(tmp_path), "--train", "--json"])
    assert [c.cell for c in configs] == ["simple_rnn", "lstm", "gru"]
    assert {c.time_budget for c in configs} == {None}  # no wall-clock cap by default
    assert [(c.updates, c.epochs) for c in configs] == \
        [(autocomplete.train.DEFAULT_UPDATES[c.cell], None) for c in configs]
    assert result.exit_code == 1  # the fake trained nothing


def test_report_train_budget_is_an_optional_cap(tmp_path, monkeypatch):
    import autocomplete.train

    configs = []
    monkeypatch.setattr(autocomplete.train, "train", lambda cfg, **kw: configs.append(cfg))
    result = CliRunner().invoke(report, ["--models-dir", str(tmp_path), "--train",
                                         "--budget", "7", "--json"])
    assert {c.time_budget for c in configs} == {7.0}
    assert [(c.updates, c.epochs) for c in configs] == \
        [(autocomplete.train.DEFAULT_UPDATES[c.cell], None) for c in configs]
    assert [c.out for c in configs] == [str(tmp_path / c) for c in ("simple_rnn", "lstm", "gru")]
    assert result.exit_code == 1  # the fake trained nothing


def test_corpus_change_is_an_error(models_dir, emails):
    other = emails.assign(body=emails["body"] + " extra")
    with pytest.raises(compare.CorpusChanged, match="changed since"):
        compare.evaluate_models({"gru": models_dir / "gru"}, emails=other, progress=False)


def test_neural_perplexity_matches_the_per_position_definition(tiny_model_dir):
    from autocomplete.evaluate.keras_lm import KerasLM

    lm = KerasLM(tiny_model_dir("gru"))  # window 32: the long sequences take the cut path
    rng = np.random.default_rng(0)
    seqs = [np.concatenate([[2], rng.integers(1, len(lm.vocab), n)]) for n in (0, 3, 31, 45)]
    fast = neural_perplexity_and_accuracy(lm, seqs, token_budget=40)
    slow = em.perplexity_and_accuracy(lm, seqs)
    assert fast["tokens"] == slow["tokens"] == 3 + 31 + 45
    assert fast["perplexity"] == pytest.approx(slow["perplexity"], rel=1e-4)
    assert fast["top5"] == pytest.approx(slow["top5"], abs=0.02)


def test_ngram_step_model_decodes_like_the_greedy_completer():
    vocab = ["", "[UNK]", "[start]", "i", "need", "to", "take", "a", "loan", "."]
    seqs = [[2, 3, 4, 5, 6, 7, 8, 9], [2, 3, 4, 5, 6, 7, 8, 9, 3, 4]]
    lm = KneserNeyLM(order=3).fit(seqs, vocab)
    for context in ([2, 3], [2, 3, 4, 5], [2]):
        assert step_greedy_completer(NgramStepModel(lm))(context) == \
            em.greedy_completer(lm, 5)(context)


def test_a_tuned_model_gets_a_blend_row(models_dir, emails, tmp_path):
    """The report scores the blend next to the neural model; with all the weight on the
    neural model the blend's figures are the neural model's."""
    import shutil

    from autocomplete import artifacts, textprep
    from autocomplete.blend import BlendWeights, write_blend
    from autocomplete.cache import ContinuousCache

    model_dir = tmp_path / "gru"
    shutil.copytree(models_dir / "gru", model_dir)
    vocab = artifacts.read_vocab(model_dir)
    train_df = textprep.split_by_email(emails, seed=0)["train"]
    ngram = KneserNeyLM(order=3).fit(
        textprep.encode(textprep.make_vectorizer(vocab), train_df["body"].tolist()), vocab)
    write_blend(model_dir, BlendWeights(1.0, 0.0, 0.0), ContinuousCache(1.0, 0.0, "tokens"),
                ngram)
    results = compare.evaluate_models({"gru": model_dir}, quick=True, emails=emails,
                                      progress=False)
    rows = results.summary.set_index("model")
    assert rows.loc["gru + blend", "type"] == "blend"
    for col in ("perplexity", "top1", "top5", "em1"):
        assert rows.loc["gru + blend", col] == pytest.approx(rows.loc["gru", col], rel=1e-4)
    assert set(results.completions["model"]) == {"gru", "gru + blend", "ngram-4"}
