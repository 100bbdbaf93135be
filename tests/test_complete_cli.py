"""`autocomplete complete`: output forms, errors as one line, no TensorFlow on the fast path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_model_dir

from autocomplete.commands.complete import complete
from autocomplete.fastpath import export_inference

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Today due to my current job situation and family condition, I"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """models/ with the three cells (gru, lstm, simple_rnn), each with inference.npz."""
    root = tmp_path_factory.mktemp("work") / "models"
    for cell in ("gru", "lstm", "simple_rnn"):
        export_inference(make_model_dir(root / cell, cell))
    return root


def run(*args: str):
    return CliRunner().invoke(complete, list(args))


def one_line_error(result, code: int, text: str) -> None:
    """Exit `code`, `text` in a single "Error: ..." line, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)  # handled by click, not a crash
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if "Error" in line]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and text in errors[0]


def test_one_model_prints_one_line(models):
    result = run(PROMPT, "--cell", "lstm", "--models-dir", str(models), "--max-words", "3")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1 and result.stdout.strip()
    by_dir = run(PROMPT, "--model", str(models / "lstm"), "--max-words", "3")
    assert by_dir.stdout == result.stdout


def test_every_trained_cell_as_a_table(models):
    result = run(PROMPT, "--models-dir", str(models), "--greedy", "--max-words", "4")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["cell", "engine", "completion", "confidence"]
    assert [line.split()[0] for line in lines[1:]] == ["simple_rnn", "lstm", "gru"]
    col = lines[0].index("completion")
    assert all(line[col - 2 : col] == "  " and line[col] != " " for line in lines)
    assert len({len(line.rstrip()) for line in lines}) == 1  # confidence right-aligned


def test_json_fields(models):
    result = run(PROMPT, "--cell", "gru", "--models-dir", str(models), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("prompt", "completion", "tokens", "token_probs", "confidence", "truncated",
                "cell"):
        assert key in data
    assert data["cell"] == "gru" and data["prompt"] == PROMPT and not data["truncated"]
    assert len(data["tokens"]) == len(data["token_probs"]) and 0 < data["confidence"] <= 1
    assert data["backend"] == "numpy" and data["engine"] == "neural"
    every = json.loads(run(PROMPT, "--models-dir", str(models), "--json").stdout)
    assert [d["cell"] for d in every] == ["simple_rnn", "lstm", "gru"]


def test_sampling_with_a_seed_repeats(models):
    args = (PROMPT, "--cell", "lstm", "--models-dir", str(models), "--sample",
            "--temperature", "2", "--seed", "7")
    assert run(*args).stdout == run(*args).stdout


def test_min_confidence_gives_no_suggestion(models):
    result = run(PROMPT, "--cell", "lstm", "--models-dir", str(models),
                 "--min-confidence", "0.99")
    assert result.exit_code == 0 and result.stdout == "\n"
    assert "below --min-confidence" in result.stderr


@pytest.mark.parametrize("beam", [[], ["--beam", "4"]])
def test_trim_keeps_a_prefix_of_the_completion(models, beam):
    common = [PROMPT, "--cell", "lstm", "--models-dir", str(models), "--json"]
    # without --beam a trimmed completion is searched greedily (beam 1)
    whole = json.loads(run(*common, *(beam or ["--beam", "1"])).stdout)
    cut = json.loads(run(*common, *beam, "--trim").stdout)
    assert 1 <= len(cut["tokens"]) <= len(whole["tokens"])
    assert cut["tokens"] == whole["tokens"][: len(cut["tokens"])]


def test_a_partial_word_is_finished_first(models):
    # "upd" is the start of one word of the tiny vocabulary: "update"
    result = run("Thanks for the Upd", "--cell", "lstm", "--models-dir", str(models))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ate ")
    data = json.loads(run("Thanks for the Upd", "--cell", "lstm", "--models-dir", str(models),
                          "--json").stdout)
    assert data["continues_word"] is True and data["fragment"] == "upd"
    assert data["tokens"][0] == "update" and data["completion"].startswith("ate ")
    assert data["reason"] is None
    weak = run("Thanks for the upd", "--cell", "lstm", "--models-dir", str(models),
               "--min-confidence", "0.99")
    assert weak.exit_code == 0 and weak.stdout == "\n"
    assert "below --min-confidence" in weak.stderr


def test_a_partial_word_no_vocabulary_word_starts_with(models):
    result = run("Please let me kn", "--cell", "lstm", "--models-dir", str(models))
    assert result.exit_code == 0 and result.stdout == "\n"
    assert "no word in the vocabulary starts with 'kn': no suggestion" in result.stderr
    data = json.loads(run("Please let me kn", "--cell", "lstm", "--models-dir", str(models),
                          "--json").stdout)
    assert data["completion"] == "" and data["tokens"] == [] and not data["suppressed"]
    assert data["reason"] == "no word in the vocabulary starts with 'kn'"
    table = run("Please let me kn", "--models-dir", str(models))
    assert table.exit_code == 0 and table.stdout.count("(no suggestion)") == 3


def test_a_finished_last_word_is_completed_after(models):
    for prompt in ("Thanks for the update ", "Hi Mark,"):
        data = json.loads(run(prompt, "--cell", "gru", "--models-dir", str(models),
                              "--json").stdout)
        assert data["fragment"] == "" and data["continues_word"] is False


def test_long_prompt_is_truncated_with_a_note(models):
    long = " ".join(["thanks for the update"] * 10)  # 40 tokens, window 32
    result = run(long, "--cell", "lstm", "--models-dir", str(models))
    assert result.exit_code == 0
    assert "40 tokens" in result.stderr and "last 32" in result.stderr
    data = json.loads(run(long, "--cell", "lstm", "--models-dir", str(models), "--json").stdout)
    assert data["truncated"] is True and data["kept_tokens"] == 32


@pytest.mark.parametrize("prompt", ["", "   "])
def test_blank_prompt(models, prompt):
    one_line_error(run(prompt, "--models-dir", str(models)), 2, "prompt is empty")


def test_missing_model_dir_names_the_train_command(tmp_path, monkeypatch):
    """The hint trains into the folder asked for (`--out` unless it is models/<cell>); a
    folder of something else is named as such, since train would refuse to write there."""
    result = run(PROMPT, "--cell", "gru", "--models-dir", str(tmp_path))
    one_line_error(result, 1, f"run `autocomplete train --cell gru --out {tmp_path / 'gru'}` "
                   "first")
    assert f"no trained model in {tmp_path / 'gru'}" in result.output
    monkeypatch.chdir(tmp_path)
    one_line_error(run(PROMPT, "--cell", "gru"), 1, "run `autocomplete train --cell gru` first")
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "1.eml").write_text("Subject: hi\n\nhello")
    one_line_error(run(PROMPT, "--model", str(tmp_path / "mail")), 1,
                   "is not a model directory (it has no model.keras, vocab.txt, config.json)")


def test_corrupt_model(models, tmp_path):
    bad = tmp_path / "lstm"
    shutil.copytree(models / "lstm", bad)
    (bad / "model.keras").write_bytes(b"\x00junk, not a zip file\xff" * 10)
    (bad / "inference.npz").unlink()
    one_line_error(run(PROMPT, "--model", str(bad)), 1, "cannot be loaded")


def test_a_vocabulary_from_another_run(models, tmp_path):
    """A vocab.txt that does not fit model.keras is named in one line, whichever engine reads
    it (the Keras step model, or the export of the fast path)."""
    from autocomplete.artifacts import ModelDirError
    from autocomplete.fastpath import export_inference

    bad = tmp_path / "lstm"
    shutil.copytree(models / "lstm", bad)
    vocab = (bad / "vocab.txt").read_text().split("\n")
    (bad / "vocab.txt").write_text("\n".join(vocab[:40]) + "\n")
    (bad / "inference.npz").unlink()
    one_line_error(run(PROMPT, "--model", str(bad)), 1, "vocab.txt has 40 tokens")
    with pytest.raises(ModelDirError, match="not from the same run") as err:
        export_inference(bad)
    cell = json.loads((bad / "config.json").read_text())["cell"]
    assert f"`autocomplete train --cell {cell} --out {bad}`" in str(err.value)


def test_unknown_cell(models):
    one_line_error(run(PROMPT, "--cell", "transformer", "--models-dir", str(models)), 2,
                   "Invalid value for '--cell'")


def test_no_trained_models(tmp_path):
    one_line_error(run(PROMPT, "--models-dir", str(tmp_path)), 1, "no trained models in")


def test_conflicting_options(models):
    one_line_error(run(PROMPT, "--greedy", "--sample"), 2, "--greedy and --sample")
    one_line_error(run(PROMPT, "--temperature", "0.5"), 2, "only with --sample")


def test_sampling_options_out_of_range(models):
    one_line_error(run(PROMPT, "--sample", "--temperature", "inf"), 2,
                   "Invalid value for '--temperature'")
    one_line_error(run(PROMPT, "--sample", "--seed", "-5"), 2, "Invalid value for '--seed'")


def test_a_config_that_is_not_an_object(models, tmp_path):
    odd = tmp_path / "gru"
    shutil.copytree(models / "gru", odd)
    (odd / "config.json").write_text("[]")
    one_line_error(run(PROMPT, "--model", str(odd)), 1, "is not a model's settings")
    one_line_error(run(PROMPT, "--models-dir", str(tmp_path)), 1, "no trained models in")


def test_keras_fallback_without_export(models, tmp_path):
    plain = tmp_path / "gru"
    shutil.copytree(models / "gru", plain)
    (plain / "inference.npz").unlink()
    fast = json.loads(run(PROMPT, "--model", str(models / "gru"), "--json").stdout)
    slow = json.loads(run(PROMPT, "--model", str(plain), "--json").stdout)
    assert slow["backend"] == "keras" and slow["tokens"] == fast["tokens"]


def test_fast_path_cli_never_imports_tensorflow_or_pandas(models):
    # pandas alone costs ~0.1 s of start-up; only the tuning of the cache needs it
    code = (
        "import sys\n"
        "from autocomplete.commands.complete import complete\n"
        "complete.main(sys.argv[1:], standalone_mode=False)\n"
        "bad = [k for k in sys.modules if k.split('.')[0] in ('tensorflow', 'keras', 'pandas')]\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code, PROMPT, "--models-dir", str(models)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split() == ["cell", "engine", "completion", "confidence"]


@pytest.fixture(scope="module")
def subject_models(tmp_path_factory) -> Path:
    """A subject-trained gru (fast path) whose output layer favours the separator, and a copy
    without the fast path (Keras)."""
    from autocomplete.tokens import SUBJECT_SEPARATOR

    root = tmp_path_factory.mktemp("subject") / "models"
    export_inference(make_model_dir(root / "gru", "gru", subject=True, favour=SUBJECT_SEPARATOR))
    shutil.copytree(root / "gru", root / "keras")
    (root / "keras" / "inference.npz").unlink()
    return root


def test_subject_is_read_before_the_prompt(subject_models):
    model = str(subject_models / "gru")
    data = json.loads(run("Thanks for the", "--model", model, "--subject", "Orion update",
                          "--json").stdout)
    assert data["subject"] == "Orion update" and data["backend"] == "numpy"
    assert data["prompt_tokens"] == 3 + 3  # orion, update, the separator, then the prompt
    plain = json.loads(run("Thanks for the", "--model", model, "--json").stdout)
    assert plain["subject"] == "" and plain["prompt_tokens"] == 1 + 3  # no subject: xxbody
    other = json.loads(run("Thanks for the", "--model", model, "--subject", "Loan", "--json",
                           "--greedy").stdout)
    first = json.loads(run("Thanks for the", "--model", model, "--subject", "Orion update",
                           "--json", "--greedy").stdout)
    assert other["token_probs"] != first["token_probs"]  # the subject changes what follows


@pytest.mark.parametrize("engine", ["gru", "keras"])
@pytest.mark.parametrize("method", [(), ("--greedy",), ("--sample", "--seed", "3")])
def test_the_separator_is_never_in_a_completion(subject_models, engine, method):
    for subject in (("--subject", "hi mark"), ()):
        result = run("Hi Mark, thanks for the", "--model", str(subject_models / engine),
                     "--json", *subject, *method)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["tokens"] and "xxbody" not in data["tokens"]
        assert "xxbody" not in data["completion"]


def test_a_partial_word_after_a_subject(subject_models):
    data = json.loads(run("Thanks for the Upd", "--model", str(subject_models / "gru"),
                          "--subject", "Orion", "--json").stdout)
    assert data["fragment"] == "upd" and data["continues_word"] is True
    assert data["tokens"][0] == "update" and data["completion"].startswith("ate")


def test_subject_is_refused_for_a_model_trained_without(models, subject_models):
    one_line_error(run(PROMPT, "--cell", "lstm", "--models-dir", str(models), "--subject",
                       "Loan"), 2, "trained without subjects (train --subject)")
    result = run(PROMPT, "--models-dir", str(models), "--subject", "")
    one_line_error(result, 2, "leave --subject out")
    mixed = subject_models.parent / "mixed"
    shutil.copytree(models / "lstm", mixed / "lstm")
    shutil.copytree(subject_models / "gru", mixed / "gru")
    result = run(PROMPT, "--models-dir", str(mixed), "--subject", "Loan")
    one_line_error(result, 2, "choose a model with --cell or --model")
    assert str(mixed / "lstm") in result.output and str(mixed / "gru") not in result.output
