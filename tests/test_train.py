"""Training writes a complete model directory, atomically, and resumes."""

import json
import random

import keras
import numpy as np
import pandas as pd
import pytest

from autocomplete import artifacts
from autocomplete.train import TrainConfig, train


def tiny_emails(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        when, verb = rng.choice(
            [("today", "need"), ("yesterday", "needed"), ("tomorrow", "will need")]
        )
        reason, obj = rng.choice([("my fever", "sick day"), ("my job situation", "loan")])
        name = rng.choice(["mark", "anna"])
        body = f"hi {name},\n{when} due to {reason}, i {verb} to take a {obj}."
        rows.append({"id": f"t{i}", "subject": "request", "body": body, "deps": []})
    return pd.DataFrame(rows)


def tiny_config(tmp_path, **kw) -> TrainConfig:
    base = dict(out=str(tmp_path / "model"), epochs=2, units=8, embedding_dim=8, window=32,
                batch_size=16, grad_stats=False, patience=10)
    return TrainConfig(**(base | kw))


class Interrupt(keras.callbacks.Callback):
    """Simulates Ctrl-C at the start of an epoch."""

    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


def test_train_writes_model_directory(tmp_path):
    out = train(tiny_config(tmp_path), verbose=0, emails=tiny_emails())
    names = {p.name for p in out.iterdir()}
    assert {"model.keras", "vocab.txt", "config.json", "history.csv", "metrics.json"} <= names
    config = json.loads((out / "config.json").read_text())
    assert config["cell"] == "lstm" and config["units"] == 8 and len(config["corpus_sha256"]) == 64
    assert {"tensorflow", "keras"} <= set(config["versions"])
    history = pd.read_csv(out / "history.csv")
    assert {"loss", "xent", "perplexity", "val_xent", "val_perplexity", "val_accuracy",
            "updates"} <= set(history.columns)
    assert len(history) == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["perplexity"] > 1 and 0 <= metrics["top1_accuracy"] <= metrics["top5_accuracy"]
    best = int(history["val_xent"].to_numpy().argmin()) + 1  # the epoch early stopping kept
    assert metrics["kept_epoch"] == best
    assert metrics["updates"] == metrics["updates_planned"] == history["updates"].iloc[-1] > 0
    # the held-out figures are the test scorer's, on the validation windows
    np.testing.assert_allclose(np.exp(history["val_xent"]), history["val_perplexity"], rtol=1e-6)
    assert not artifacts.staging_dir(out).exists()


def test_mixed_precision_training_saves_a_float32_model(tmp_path):
    cfg = tiny_config(tmp_path, epochs=1, precision="mixed_bfloat16")
    out = train(cfg, verbose=0, emails=tiny_emails(40))
    assert artifacts.read_config(out)["precision_used"] == "mixed_bfloat16"
    model = artifacts.load_keras_model(out)
    assert [layer.name for layer in model.layers][-1] == "logits"  # no cast layer
    assert {layer.compute_dtype for layer in model.layers[1:]} == {"float32"}


def test_defaults_per_cell_and_the_bottleneck():
    lstm, gru = TrainConfig(cell="lstm"), TrainConfig(cell="gru")
    assert (lstm.lr_decay, lstm.gate_init, lstm.learning_rate) == (0.25, "chrono-full", 2e-2)
    assert (lstm.batch_size, lstm.updates, lstm.epochs, lstm.projection) == (16, 3200, None, 128)
    assert (lstm.embedding_dim, gru.embedding_dim) == (64, 128)
    assert (gru.lr_decay, gru.learning_rate, gru.batch_size, gru.updates) == (0.0, 1e-2, 16, 1760)
    assert (lstm.ema, gru.ema, TrainConfig(cell="simple_rnn").ema) == (0.0, 0.99, 0.0)
    assert (lstm.beta_2, gru.beta_2, TrainConfig(cell="simple_rnn").beta_2) == (0.999, 0.99, 0.999)
    assert (lstm.max_lag, gru.max_lag) == (256, 120)
    assert TrainConfig(cell="lstm", max_lag=120).max_lag == 120
    assert TrainConfig(cell="lstm", lr_decay=0).lr_decay == 0  # 0 holds the rate
    explicit = TrainConfig(cell="gru", lr_decay=0.5, batch_size=8, epochs=1, ema=0)  # explicit wins
    assert (explicit.lr_decay, explicit.batch_size, explicit.epochs, explicit.ema) == (0.5, 8, 1, 0)
    assert explicit.updates is None


def test_work_is_split_into_rounds_of_at_most_one_pass():
    from autocomplete.train import plan_rounds

    # 7,958 windows: 498 updates a pass in the gated cells' batches of 16, 125 in the
    # simple_rnn's 64
    assert plan_rounds(TrainConfig(cell="gru"), 7958) == (4, 440)  # 1,760 updates
    assert plan_rounds(TrainConfig(cell="simple_rnn"), 7958) == (3, 110)
    assert plan_rounds(TrainConfig(cell="lstm"), 7958) == (7, 458)  # 3,200: 3,206 in rounds
    assert plan_rounds(TrainConfig(cell="lstm", epochs=2), 7958) == (2, 498)
    assert plan_rounds(TrainConfig(cell="lstm", updates=100), 7958) == (1, 100)
    assert plan_rounds(TrainConfig(cell="lstm", updates=400, batch_size=64), 7958) == (4, 100)
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(updates=10, epochs=1)


def test_a_run_does_the_updates_it_plans(tmp_path):
    out = train(tiny_config(tmp_path, epochs=None, updates=7), verbose=0,
                emails=tiny_emails(40))
    from autocomplete.train import read_metrics

    m = read_metrics(out)
    # rounds of equal length: 7 updates rounded up to a multiple of the rounds
    assert m["updates"] == m["updates_planned"]
    assert 7 <= m["updates"] < 7 + m["epochs_run"]


def test_max_lag_reaches_the_gate_initialisation(tmp_path, monkeypatch):
    import autocomplete.model

    built = []
    real = autocomplete.model.build_model
    monkeypatch.setattr(autocomplete.model, "build_model",
                        lambda *a, **kw: built.append(kw) or real(*a, **kw))
    out = train(tiny_config(tmp_path, epochs=1, max_lag=40), verbose=0, emails=tiny_emails(40))
    assert [kw["max_lag"] for kw in built] == [40]
    assert artifacts.read_config(out)["max_lag"] == 40


def test_lr_decay_and_dropout_reach_the_run(tmp_path):
    cfg = tiny_config(tmp_path, time_budget=None, lr_decay=0.5, dropout=0.2, learning_rate=1e-2)
    out = train(cfg, verbose=0, emails=tiny_emails())
    rates = pd.read_csv(out / "history.csv")["learning_rate"].to_numpy()
    # no time budget: held through epoch 1, one step's worth above zero at the end of epoch 2
    assert rates[0] == pytest.approx(1e-2) and 0 < rates[1] < 1e-2 / 2
    assert artifacts.read_config(out)["lr_decay"] == 0.5
    model = artifacts.load_keras_model(out)
    assert model.get_layer("output_dropout").rate == 0.2
    from autocomplete.fastpath import NumpyStepModel

    ids = np.array([2, 5, 7, 3, 9], dtype="int32")  # the fast path has no dropout layer to skip
    np.testing.assert_allclose(NumpyStepModel(out).sequence_logits(ids), model(ids[None])[0],
                               rtol=1e-4, atol=1e-5)


def test_tied_embeddings_reach_the_run_with_gradient_statistics(tmp_path):
    cfg = tiny_config(tmp_path, tie_embeddings=True, projection=8, grad_stats=True, epochs=1,
                      precision="mixed_bfloat16")
    out = train(cfg, verbose=0, emails=tiny_emails())
    assert artifacts.read_config(out)["tie_embeddings"] is True
    model = artifacts.load_keras_model(out)
    assert "logits" not in [layer.name for layer in model.layers]
    assert (out / "grad_flow.csv").is_file() and (out / "grad_stats.csv").is_file()
    from autocomplete.fastpath import NumpyStepModel

    ids = np.array([2, 5, 7, 3, 9], dtype="int32")
    np.testing.assert_allclose(NumpyStepModel(out).sequence_logits(ids), model(ids[None])[0],
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="as wide as the word vectors"):
        train(tiny_config(tmp_path / "wide", tie_embeddings=True, projection=4), verbose=0,
              emails=tiny_emails())


def test_ema_scores_and_saves_the_averaged_weights(tmp_path):
    """With a momentum near 1 the average stays at the first update's weights: the rounds
    are scored, and the model saved, untrained; without it the same run learns."""
    from autocomplete.train import read_metrics

    cfg = dict(epochs=3, learning_rate=3e-2, time_budget=None)
    plain = train(tiny_config(tmp_path / "plain", **cfg), verbose=0, emails=tiny_emails())
    frozen = train(tiny_config(tmp_path / "ema", ema=0.999999, **cfg), verbose=0,
                   emails=tiny_emails())
    learned = pd.read_csv(plain / "history.csv")["val_perplexity"].to_numpy()
    averaged = pd.read_csv(frozen / "history.csv")["val_perplexity"].to_numpy()
    assert averaged[-1] > 2 * learned[-1] and averaged[-1] > 0.9 * averaged[0]
    assert read_metrics(frozen)["perplexity"] > 2 * read_metrics(plain)["perplexity"]
    assert artifacts.read_config(frozen)["ema"] == 0.999999

    # resumed from a round's backup, the run trains on from its last weights and keeps
    # averaging: the saved model is the untrained average again, not the trained weights
    resumed = tiny_config(tmp_path / "resumed", ema=0.999999, **cfg)
    with pytest.raises(KeyboardInterrupt):
        train(resumed, verbose=0, emails=tiny_emails(), callbacks=[Interrupt(at_epoch=2)])
    out = train(resumed, resume=True, verbose=0, emails=tiny_emails())
    assert read_metrics(out)["perplexity"] > 2 * read_metrics(plain)["perplexity"]


def test_lazy_adam_reaches_the_run_without_l2_on_word_vectors(tmp_path):
    out = train(tiny_config(tmp_path, optimizer="lazy-adam", epochs=1), verbose=0,
                emails=tiny_emails())
    assert artifacts.read_config(out)["optimizer"] == "lazy-adam"
    model = artifacts.load_keras_model(out)
    assert model.get_layer("embedding").embeddings_regularizer is None
    assert model.get_layer("rnn_1").kernel_regularizer is not None


def test_rare_word_dropout_reaches_the_run_as_rates_by_count(tmp_path, monkeypatch):
    from autocomplete import textprep

    seen, real = [], textprep.drop_words
    monkeypatch.setattr(textprep, "drop_words",
                        lambda ds, rate, seed, keep:
                        seen.append(rate) or real(ds, rate, seed, keep))
    out = train(tiny_config(tmp_path, rare_word_dropout=5.0, epochs=1), verbose=0,
                emails=tiny_emails())
    vocab = artifacts.read_vocab(out)
    rates = seen[0]
    assert artifacts.read_config(out)["rare_word_dropout"] == 5.0 and len(rates) == len(vocab)
    # "to" is in every email, "anna" in about half of them: half as many sightings
    assert 0 < rates[vocab.index("to")] < 0.7 * rates[vocab.index("anna")] < 1
    with pytest.raises(ValueError, match="excludes --word-dropout"):
        train(tiny_config(tmp_path / "both", rare_word_dropout=5.0, word_dropout=0.1),
              verbose=0, emails=tiny_emails())


def test_word_dropout_is_off_by_default_and_reaches_the_training_batches(tmp_path,
                                                                          monkeypatch):
    from autocomplete import textprep

    assert all(TrainConfig(cell=cell).word_dropout == 0.0 for cell in ("lstm", "gru"))
    with pytest.raises(ValueError, match="finite"):
        TrainConfig(word_dropout=float("nan"))
    seen, real = [], textprep.drop_words
    monkeypatch.setattr(textprep, "drop_words",
                        lambda ds, rate, seed, keep: seen.append((rate, seed, keep))
                        or real(ds, rate, seed, keep))
    out = train(tiny_config(tmp_path, word_dropout=0.3, seed=4), verbose=0,
                emails=tiny_emails())
    assert seen == [(0.3, 4, [])] and artifacts.read_config(out)["word_dropout"] == 0.3
    # with subjects, the separator between subject and body is never dropped
    train(tiny_config(tmp_path / "subject", word_dropout=0.3, subject=True), verbose=0,
          emails=tiny_emails())
    vocab = artifacts.read_vocab(tmp_path / "subject" / "model")
    assert seen[-1][2] == [vocab.index("xxbody")]


def test_save_load_round_trip(tmp_path):
    out = train(tiny_config(tmp_path, cell="gru", epochs=1), verbose=0, emails=tiny_emails())
    vocab = artifacts.read_vocab(out)
    ids = np.array([[2] + [vocab.index(t) for t in ["today", "due", "to"]]], "int32")
    loaded = artifacts.load_keras_model(out)
    again = artifacts.load_keras_model(out)
    np.testing.assert_allclose(loaded(ids), again(ids))
    assert loaded.get_layer("rnn_1").__class__.__name__ == "GRU"


def test_interrupted_run_leaves_no_model_and_resumes(tmp_path):
    cfg = tiny_config(tmp_path, epochs=3)
    emails = tiny_emails()
    stop = Interrupt(at_epoch=2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, verbose=0, emails=emails, callbacks=[stop])
    out = cfg.out_dir()
    assert not out.exists(), "a half-trained model must not appear where complete looks"
    assert (artifacts.staging_dir(out) / "backup").exists()

    # other settings, or other mail: one clear sentence, and the interrupted run kept
    with pytest.raises(ValueError, match=r"other settings: --units 8 \(now 16\); resume it"):
        train(tiny_config(tmp_path, epochs=3, units=16), resume=True, verbose=0, emails=emails)
    with pytest.raises(ValueError, match=r"other settings: --word-dropout 0.0 \(now 0.2\);"):
        train(tiny_config(tmp_path, epochs=3, word_dropout=0.2), resume=True, verbose=0,
              emails=emails)
    with pytest.raises(ValueError, match="other settings: the corpus;"):
        train(cfg, resume=True, verbose=0, emails=tiny_emails(seed=1))
    assert (artifacts.staging_dir(out) / "backup").exists()

    watch = Interrupt(at_epoch=-1)
    train(cfg, resume=True, verbose=0, emails=emails, callbacks=[watch])
    assert not (out / "run.json").exists()
    assert watch.seen == [2], "resume continues after the last finished epoch"
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [0, 1, 2]


class InterruptAtEnd(keras.callbacks.Callback):
    """Simulates Ctrl-C at the end of an epoch, after the CSV log, before the backup."""

    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


def test_a_resumed_run_does_its_planned_work_whenever_it_was_stopped(tmp_path):
    """A round logged but not backed up runs again, once in the log; a backup whose round
    count lags its weights (Ctrl-C between Keras's two writes) resumes by the update count."""
    emails = tiny_emails()
    cfg = tiny_config(tmp_path, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, verbose=0, emails=emails, callbacks=[InterruptAtEnd(1)])
    stage = artifacts.staging_dir(cfg.out_dir())
    assert pd.read_csv(stage / "history.csv")["epoch"].tolist() == [0, 1]
    out = train(cfg, resume=True, verbose=0, emails=emails)
    history = pd.read_csv(out / "history.csv")
    per_round = history["updates"].iloc[0]
    assert history["epoch"].tolist() == [0, 1, 2]
    assert history["updates"].tolist() == [per_round, 2 * per_round, 3 * per_round]

    cfg = tiny_config(tmp_path, epochs=3, out=str(tmp_path / "lagging"))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, verbose=0, emails=emails, callbacks=[Interrupt(at_epoch=2)])
    stage = artifacts.staging_dir(cfg.out_dir())
    (stage / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    watch = Interrupt(at_epoch=-1)
    out = train(cfg, resume=True, verbose=0, emails=emails, callbacks=[watch])
    assert watch.seen == [2], "the weights had finished two rounds: only the third runs"
    assert json.loads((out / "metrics.json").read_text())["updates"] == 3 * per_round


def test_ctrl_c_names_the_whole_command_to_resume(monkeypatch, tmp_path):
    """The hint repeats every option given (the corpus, the work, the switches), so that
    running it as printed resumes the same run."""
    from click.testing import CliRunner

    import autocomplete.train as train_module
    from autocomplete.commands.train import train as train_command

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "train", interrupted)
    corpus = tmp_path / "my mail.csv"
    corpus.write_text("text\nhello\n")
    result = CliRunner().invoke(train_command, [
        "--cell", "gru", "--corpus", str(corpus), "--updates", "30", "--no-grad-stats",
        "--out", str(tmp_path / "m")])
    assert result.exit_code == 130
    assert (f"continue with `autocomplete train --cell gru --corpus '{corpus}' "
            f"--out {tmp_path / 'm'} --updates 30 --no-grad-stats --resume`") in result.output


def test_failed_retrain_keeps_old_model(tmp_path):
    cfg = tiny_config(tmp_path, epochs=1)
    out = train(cfg, verbose=0, emails=tiny_emails())
    before = (out / "model.keras").read_bytes()
    with pytest.raises(KeyboardInterrupt):
        train(cfg, verbose=0, emails=tiny_emails(), callbacks=[Interrupt(at_epoch=0)])
    assert (out / "model.keras").read_bytes() == before
    artifacts.check_model_dir(out)


def test_training_never_replaces_a_folder_that_holds_no_model(tmp_path):
    """--out on the user's mail (or a folder of models) is refused before any work; an
    empty folder and an old model may be replaced."""
    from click.testing import CliRunner

    from autocomplete.commands.train import train as train_command

    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "1.eml").write_text("Subject: hi\n\nhello")
    with pytest.raises(artifacts.OutputDirError, match="does not hold a model"):
        train(tiny_config(tmp_path, out=str(mail)), verbose=0, emails=tiny_emails())
    result = CliRunner().invoke(train_command, ["--out", str(mail)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: {mail} exists and does not hold a model" in result.output
    assert [p.name for p in mail.iterdir()] == ["1.eml"]
    assert not artifacts.staging_dir(mail).exists()
    with pytest.raises(artifacts.OutputDirError, match="is not a folder"):
        artifacts.check_replaceable(mail / "1.eml")

    empty = tmp_path / "empty"
    empty.mkdir()
    out = train(tiny_config(tmp_path, out=str(empty), epochs=1), verbose=0, emails=tiny_emails())
    artifacts.check_model_dir(out)
    artifacts.check_replaceable(out)  # a model: the next run may replace it


@pytest.mark.parametrize("command, args", [
    ("train", ["--out", ""]), ("train", ["--corpus", " "]), ("complete", ["--model", "", "Hi"]),
    ("report", ["--models-dir", ""]), ("prepare", [""]), ("gradients", [""]),
])
def test_an_empty_path_is_refused_not_read_as_the_default(command, args, tmp_path,
                                                           monkeypatch):
    """`--out "$DIR"` with DIR unset must not train into (and replace) models/<cell>."""
    import importlib

    from click.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(f"autocomplete.commands.{command}")
    result = CliRunner().invoke(getattr(module, command), args)
    assert result.exit_code == 2 and "is empty; give a path." in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_corpus_path_is_recorded_absolute(tmp_path, monkeypatch):
    """`tune` and `report` rebuild the split from the recorded path, from any directory."""
    monkeypatch.chdir(tmp_path)
    tiny_emails(40).rename(columns={"body": "message"})[["message"]].to_csv("mail.csv")
    out = train(tiny_config(tmp_path, corpus="mail.csv", epochs=1), verbose=0)
    assert artifacts.read_config(out)["corpus"] == str(tmp_path / "mail.csv")


def test_learning_rate_defaults_per_cell_and_is_recorded(tmp_path):
    from autocomplete.train import DEFAULT_LEARNING_RATES

    assert TrainConfig(cell="lstm").learning_rate == DEFAULT_LEARNING_RATES["lstm"] == 2e-2
    assert TrainConfig(cell="gru").learning_rate == 1e-2
    assert TrainConfig(cell="simple_rnn").learning_rate == 1e-2
    assert TrainConfig(cell="lstm", learning_rate=3e-3).learning_rate == 3e-3  # explicit wins
    out = train(tiny_config(tmp_path, cell="gru", epochs=1), emails=tiny_emails(40), verbose=0)
    assert artifacts.read_config(out)["learning_rate"] == 1e-2


def test_units_default_per_cell_and_explicit_wins():
    from autocomplete.train import DEFAULT_UNITS

    assert TrainConfig(cell="lstm").units == DEFAULT_UNITS["lstm"] == 192
    assert TrainConfig(cell="gru").units == TrainConfig(cell="simple_rnn").units == 256
    assert TrainConfig(cell="lstm", units=256).units == 256


def test_trained_cells_prefers_the_default_directory(tmp_path):
    """models/enron-lstm sorts before models/lstm; the default directory must still win."""
    for name, cell in (("enron-lstm", "lstm"), ("lstm", "lstm"), ("my-gru", "gru"),
                       ("broken", "gru")):
        d = tmp_path / name
        d.mkdir()
        for f in artifacts.REQUIRED:
            (d / f).write_text("{}")
        artifacts.write_json(d / "config.json", {"cell": cell})
    (tmp_path / "broken" / "model.keras").unlink()  # incomplete: never chosen
    found = artifacts.trained_cells(tmp_path)
    assert found == {"lstm": tmp_path / "lstm", "gru": tmp_path / "my-gru"}


def test_train_command_turns_out_of_memory_into_a_message(monkeypatch, tmp_path):
    import tensorflow as tf
    from click.testing import CliRunner

    import autocomplete.train as train_module
    from autocomplete.commands.train import train as train_command

    def oom(cfg, **kw):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(train_module, "train", oom)
    result = CliRunner().invoke(train_command, ["--batch-size", "4096", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "out of memory with --batch-size 4096" in result.output
    assert "Traceback" not in result.output


def test_a_run_is_defined_by_work_and_the_time_cap_is_off_by_default():
    from click.testing import CliRunner

    from autocomplete.commands.train import train as train_command
    from autocomplete.train import DEFAULT_UPDATES

    cfg = TrainConfig()
    assert cfg.time_budget is None and cfg.updates == DEFAULT_UPDATES["lstm"]
    assert TrainConfig(time_budget=0).time_budget is None  # 0 means no cap, as on the CLI
    help_text = " ".join(CliRunner().invoke(train_command, ["--help"]).output.split())
    assert ("(early stopping may end it sooner). Default: 3200 for lstm, 1760 for gru, 330 for "
            "simple_rnn." in help_text)
    assert "Windows per update. Default: 16 for lstm, 16 for gru, 64 for simple_rnn." in help_text
    assert "Default: 0.02 for lstm, 0.01 for gru, 0.01 for simple_rnn." in help_text  # the rate
    assert "Units per recurrent layer. Default: 192 for lstm, 256 for gru" in help_text
    assert "found. Default: 0.25 for lstm, 0 for gru, 0 for simple_rnn." in help_text
    assert "--time-budget FLOAT Optional cap" in help_text  # no default shown: off


@pytest.mark.parametrize("option,value", [
    ("--learning-rate", "nan"), ("--lr", "inf"), ("--l2", "nan"), ("--clipnorm", "inf"),
    ("--dropout", "nan"), ("--time-budget", "inf"), ("--lr-decay", "nan"),
    ("--embedding-std", "-inf"), ("--max-grad-norm", "nan"), ("--global-clipnorm", "inf"),
])
def test_non_finite_options_are_refused_with_one_line(tmp_path, option, value):
    from click.testing import CliRunner

    from autocomplete.commands.train import train as train_command

    result = CliRunner().invoke(train_command, [option, value, "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "is not a finite number" in result.output or "not in the range" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_every_float_field_of_the_config_refuses_non_finite_values():
    import dataclasses

    floats = [f.name for f in dataclasses.fields(TrainConfig)
              if "float" in str(f.type)]
    assert {"learning_rate", "l2", "clipnorm", "dropout", "time_budget"} <= set(floats)
    for name in floats:
        for bad in (float("nan"), float("inf"), float("-inf")):
            with pytest.raises(ValueError, match=f"{name} must be a finite number"):
                TrainConfig(**{name: bad})


class PoisonWeights(keras.callbacks.Callback):
    """Makes the weights non-finite after an update of an epoch, as a diverged run would."""

    def __init__(self, at_epoch, at_batch=0):
        super().__init__()
        self.at_epoch, self.at_batch, self.epoch = at_epoch, at_batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == (self.at_epoch, self.at_batch):
            kernel = self.model.get_layer("logits").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


@pytest.mark.parametrize("at_epoch,at_batch", [(0, 0), (1, 5)])  # (1, 5): the last update
def test_non_finite_training_never_publishes(tmp_path, at_epoch, at_batch):
    from autocomplete.train import NonFiniteTrainingError

    cfg = tiny_config(tmp_path, epochs=2)
    out = train(cfg, verbose=0, emails=tiny_emails())  # a good model is already there
    before = (out / "model.keras").read_bytes()
    with pytest.raises(NonFiniteTrainingError, match="nothing was saved"):
        train(cfg, verbose=0, emails=tiny_emails(), callbacks=[PoisonWeights(at_epoch, at_batch)])
    assert (out / "model.keras").read_bytes() == before
    assert not artifacts.staging_dir(out).exists()
    artifacts.check_model_dir(out)


def test_diverging_learning_rate_is_reported_not_saved(tmp_path):
    from click.testing import CliRunner

    from autocomplete.commands.train import train as train_command

    corpus = tmp_path / "mail.csv"
    tiny_emails(60).rename(columns={"body": "text"})[["text"]].to_csv(corpus, index=False)
    out = tmp_path / "m"
    args = ["--corpus", str(corpus), "--out", str(out), "--epochs", "2", "--units", "8",
            "--embedding-dim", "8", "--window", "32", "--no-grad-stats", "--optimizer", "sgd",
            "--no-clip", "--lr", "1e30"]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 1, result.output
    assert "training diverged" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_same_command_and_seed_give_the_same_model(tmp_path):
    a = train(tiny_config(tmp_path, out=str(tmp_path / "a")), verbose=0, emails=tiny_emails())
    b = train(tiny_config(tmp_path, out=str(tmp_path / "b")), verbose=0, emails=tiny_emails())
    c = train(tiny_config(tmp_path, out=str(tmp_path / "c"), seed=1), verbose=0,
              emails=tiny_emails())
    wa, wb, wc = (artifacts.load_keras_model(d).get_weights() for d in (a, b, c))
    for x, y in zip(wa, wb, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(wa, wc, strict=True))


def test_a_split_seed_keeps_the_split_and_windows_while_the_seed_varies(tmp_path):
    from autocomplete.train import prepare_data

    emails = tiny_emails()
    base = prepare_data(tiny_config(tmp_path), emails)
    same = prepare_data(tiny_config(tmp_path, seed=1, split_seed=0), emails)
    other = prepare_data(tiny_config(tmp_path, seed=1), emails)
    for name in ("train", "validation", "test"):
        for a, b in zip(base["windows"][name], same["windows"][name], strict=True):
            np.testing.assert_array_equal(a, b)
    assert list(base["splits"]["test"]["id"]) != list(other["splits"]["test"]["id"])
    assert TrainConfig(seed=3).split_seed == 3
    with pytest.raises(ValueError, match="--data"):
        TrainConfig(data=str(tmp_path), split_seed=0)
    # what reads a model's split back reads it from the split seed
    config = {"seed": 1, "split_seed": 0}
    assert artifacts.split_seed(config) == 0 and artifacts.split_seed({"seed": 2}) == 2


def test_output_to_a_log_file_is_one_line_per_epoch(tmp_path):
    from click.testing import CliRunner

    from autocomplete.commands.train import train as train_command

    corpus = tmp_path / "mail.csv"
    tiny_emails(60).rename(columns={"body": "text"})[["text"]].to_csv(corpus, index=False)
    args = ["--corpus", str(corpus), "--out", str(tmp_path / "m"), "--epochs", "3",
            "--units", "8", "--embedding-dim", "8", "--window", "32", "--no-grad-stats"]
    result = CliRunner().invoke(train_command, args)  # CliRunner's stdout is no terminal
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "\x1b[" not in result.output  # no bar redraws
    lines = result.output.splitlines()
    assert sum(line.startswith("Epoch ") for line in lines) == 3
    assert sum(line.startswith("updates ") for line in lines) == 3
    assert sum(line.startswith("planned: 3 rounds x ") for line in lines) == 1  # the estimate
    assert len(result.output) < 4000


def test_a_time_cap_that_ends_a_run_says_so_last(tmp_path):
    from click.testing import CliRunner

    from autocomplete.commands.train import train as train_command

    corpus = tmp_path / "mail.csv"
    tiny_emails(60).rename(columns={"body": "text"})[["text"]].to_csv(corpus, index=False)
    args = ["--corpus", str(corpus), "--out", str(tmp_path / "m"), "--epochs", "50",
            "--units", "8", "--embedding-dim", "8", "--window", "32", "--no-grad-stats",
            "--time-budget", "0.0001"]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert "--time-budget cap ended training" in last and "planned updates" in last
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["stopped_by_time_budget"] and metrics["updates"] < metrics["updates_planned"]


def test_emails_too_short_for_a_gradient_flow_train_without_one(tmp_path, capsys):
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
    one_word = pd.DataFrame({"id": words, "subject": "", "body": words, "deps": [[]] * 12})
    out = train(tiny_config(tmp_path, epochs=1, grad_stats=True), verbose=0, emails=one_word)
    assert "gradient flow not recorded: the held-out emails are under two words" in \
        capsys.readouterr().out
    artifacts.check_model_dir(out)
    assert (out / "grad_stats.csv").is_file() and not (out / "grad_flow.csv").exists()


def test_hints_name_the_cell_a_broken_model_was_trained_as(tmp_path):
    d = tmp_path / "my-model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"cell": "gru"}))
    with pytest.raises(artifacts.ModelDirError, match=f"train --cell gru --out {d}. again"):
        artifacts.check_model_dir(d)
    assert artifacts.train_hint("my-model") == "autocomplete train --cell lstm"  # not a cell


def test_too_few_usable_emails_is_an_error_that_says_where_to_look(tmp_path, capsys):
    from autocomplete.train import load_emails

    tiny_emails(3).rename(columns={"body": "message"})[["message"]].to_csv(tmp_path / "m.csv")
    with pytest.raises(ValueError, match=r"only \d usable emails after cleaning; need 10 or more "
                                         r"\(the summary above says why"):
        load_emails(str(tmp_path / "m.csv"))
    assert "kept" in capsys.readouterr().out  # the summary came first
