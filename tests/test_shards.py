"""A corpus prepared once as shards trains like the corpus itself; strategies by name."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from test_train import Interrupt, tiny_config, tiny_emails

from autocomplete import artifacts, distribute, shards
from autocomplete.commands.prepare import prepare
from autocomplete.commands.train import train as train_command
from autocomplete.train import TrainConfig, load_emails, prepare_data, train

WINDOW = 32


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """(mail.csv, the DIR `prepare --out` wrote from it)."""
    root = tmp_path_factory.mktemp("prepared")
    corpus = root / "mail.csv"
    emails = tiny_emails(60)
    emails["text"] = emails["body"] + [f" ref {i}." for i in range(60)]  # none a duplicate
    emails[["text"]].to_csv(corpus, index=False)
    out = root / "shards"
    result = CliRunner().invoke(prepare, [str(corpus), "--out", str(out), "--window",
                                          str(WINDOW), "--shard-windows", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    return corpus, out


def test_prepare_out_writes_what_train_corpus_builds(prepared):
    corpus, out = prepared
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == shards.FORMAT
    assert manifest["settings"] == {"window": WINDOW, "stride": WINDOW, "max_tokens": 8000,
                                    "seed": 0, "rows_per_shard": 4}
    df = load_emails(str(corpus))  # what `train --corpus mail.csv` reads
    data = prepare_data(TrainConfig(window=WINDOW), df)
    assert shards.read_vocab(out) == data["vocab"]
    assert manifest["vocab_size"] == len(data["vocab"])
    assert manifest["corpus"]["emails"] == len(df) == 60
    assert len(manifest["corpus"]["sha256"]) == 64
    for name in shards.SPLITS:
        split = manifest["splits"][name]
        assert split["emails"] == len(data["splits"][name])
        assert len(split["shards"]) == -(-split["windows"] // 4) > 0
        assert all((out / f).is_file() for f in split["shards"])
        for mine, theirs in zip(shards.read_windows(out, name), data["windows"][name],
                                strict=True):
            np.testing.assert_array_equal(mine, theirs)  # the same windows, in order
    assert len(shards.read_windows(out, "train", limit=3)[0]) == 3


def test_train_data_streams_the_shards_into_a_normal_model_directory(prepared, tmp_path):
    _, data = prepared
    manifest = shards.read_manifest(data)
    cfg = tiny_config(tmp_path, data=str(data), window=WINDOW, grad_stats=True, grad_every=2)
    out = train(cfg, verbose=0)
    artifacts.check_model_dir(out)
    assert {"history.csv", "metrics.json", "grad_stats.csv", "inference.npz"} <= \
        {p.name for p in out.iterdir()}
    assert artifacts.read_vocab(out) == shards.read_vocab(data)
    config = artifacts.read_config(out)
    assert config["data"] == str(data) and config["data_seed"] == 0
    assert config["corpus_sha256"] == manifest["corpus"]["sha256"]
    metrics = json.loads((out / "metrics.json").read_text())
    batches = -(-manifest["splits"]["train"]["windows"] // cfg.batch_size)
    assert metrics["updates"] == metrics["updates_planned"] == 2 * batches
    assert metrics["tokens"] == manifest["splits"]["test"]["tokens"]


@pytest.mark.parametrize("seed", [0, 5])
def test_streamed_batches_are_the_in_memory_batches(prepared, seed):
    import tensorflow as tf

    from autocomplete.textprep import make_dataset

    _, data = prepared
    rows = shards.read_windows(data, "train")
    tf.random.set_seed(seed)  # as `train` does, through keras.utils.set_random_seed
    streamed = list(shards.train_dataset(data, 5, seed).repeat(2))
    in_memory = list(make_dataset(rows, 5, shuffle=True, seed=seed).repeat(2))
    assert len(streamed) == len(in_memory) == 2 * -(-len(rows[0]) // 5)
    for mine, theirs in zip(streamed, in_memory, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # batches are cut to their longest window: padded back, the targets of each pass are
    # every row's once
    first, second = (np.concatenate([np.pad(b[1].numpy(), ((0, 0), (0, WINDOW - b[1].shape[1])))
                                     for b in half])
                     for half in (streamed[: len(streamed) // 2], streamed[len(streamed) // 2:]))
    assert sorted(map(bytes, first)) == sorted(map(bytes, rows[1])) == sorted(map(bytes, second))
    assert not np.array_equal(first, second)  # each pass in a new order


def test_train_data_trains_the_model_train_corpus_trains(prepared, tmp_path):
    corpus, data = prepared
    streamed = train(tiny_config(tmp_path / "streamed", data=str(data), window=WINDOW),
                     verbose=0)
    in_memory = train(tiny_config(tmp_path / "in_memory", corpus=str(corpus), window=WINDOW),
                      verbose=0)
    metrics = [json.loads((out / "metrics.json").read_text()) for out in (streamed, in_memory)]
    assert metrics[0]["perplexity"] == metrics[1]["perplexity"]
    weights = [np.load(out / "inference.npz") for out in (streamed, in_memory)]
    for name in weights[1].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])


def test_damaged_shards_are_refused_in_one_line(prepared, tmp_path):
    import shutil

    _, data = prepared
    copy = tmp_path / "shards"
    shutil.copytree(data, copy)
    manifest = shards.read_manifest(copy)
    first = copy / manifest["splits"]["train"]["shards"][0]
    first.write_bytes(first.read_bytes()[:-3])
    with pytest.raises(shards.ShardsError, match="cut short: prepare the corpus again"):
        shards.train_dataset(copy, 5)
    result = CliRunner().invoke(train_command, ["--data", str(copy), "--window", str(WINDOW),
                                                "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "cut short" in errors[0], result.output
    assert errors[0].endswith("prepare the corpus again")
    assert not (tmp_path / "m").exists()


def test_train_data_and_corpus_errors_are_one_line(prepared, tmp_path):
    corpus, data = prepared
    cases = [
        (["--data", str(data), "--corpus", str(corpus)], 2, "exclude each other"),
        (["--data", str(tmp_path)], 2, "is not a prepared corpus (no manifest.json)"),
        (["--data", str(data), "--window", "64"], 1, "--window 64 (it has 32)"),
    ]
    for args, code, message in cases:
        result = CliRunner().invoke(train_command, [*args, "--out", str(tmp_path / "m")])
        assert result.exit_code == code, result.output
        assert message in result.output and "Traceback" not in result.output
        assert [line for line in result.output.splitlines() if line.startswith("Error")] \
            == [line for line in result.output.splitlines() if message in line]
    assert [p.name for p in tmp_path.iterdir()] == []  # no model, no staging directory


def test_strategy_names_and_the_auto_choice(monkeypatch):
    assert TrainConfig().strategy == "auto"
    assert [distribute.resolve(n, gpus=0, workers=1) for n in distribute.STRATEGIES] == \
        ["one", "one", "mirrored", "multi-worker"]
    assert distribute.resolve("auto", gpus=2, workers=1) == "mirrored"
    assert distribute.resolve("auto", gpus=2, workers=3) == "multi-worker"
    with pytest.raises(ValueError, match="unknown strategy"):
        distribute.resolve("tpu")
    cluster = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
               "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert distribute.cluster_workers() == 3 and distribute.resolve("auto", gpus=0) == \
        "multi-worker"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["b:1"]}}))
    assert distribute.resolve("auto", gpus=0) == "one"
    monkeypatch.delenv("TF_CONFIG")
    assert distribute.cluster_workers() == 1
    result = CliRunner().invoke(train_command, ["--strategy", "tpu"])
    assert result.exit_code == 2 and "'tpu' is not one of" in result.output


def test_mirrored_strategy_trains_and_resumes(prepared, tmp_path):
    """A strategy's scope, the build before fit and BackupAndRestore, on one CPU replica."""
    _, data = prepared
    cfg = tiny_config(tmp_path, data=str(data), window=WINDOW, epochs=3, strategy="mirrored",
                      grad_stats=True)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, verbose=0, callbacks=[Interrupt(at_epoch=2)])
    assert (artifacts.staging_dir(cfg.out_dir()) / "backup").exists()
    watch = Interrupt(at_epoch=-1)
    out = train(cfg, resume=True, verbose=0, callbacks=[watch])
    assert watch.seen == [2]
    assert artifacts.read_config(out)["strategy"] == "mirrored"


def test_shards_hold_placeholders_unless_keep_numbers(tmp_path):
    """`prepare --out` writes the text `train` would see; `train --data` follows DIR's choice."""
    corpus = tmp_path / "mail.csv"
    emails = tiny_emails(40)
    emails["text"] = emails["body"] + [f" call 617-555-{1000 + i} now." for i in range(40)]
    emails[["text"]].to_csv(corpus, index=False)
    dirs = {}
    for name, extra in (("private", []), ("as_written", ["--keep-numbers"])):
        dirs[name] = tmp_path / name
        result = CliRunner().invoke(prepare, [str(corpus), "--out", str(dirs[name]),
                                              "--window", str(WINDOW), "--no-progress",
                                              *extra])
        assert result.exit_code == 0, result.output
    private, as_written = (shards.read_manifest(dirs[n]) for n in ("private", "as_written"))
    assert private["keep_numbers"] is False and private["normalized"]["phone"] == 40
    assert "xxphone" in shards.read_vocab(dirs["private"])
    assert not any(w.isdigit() for w in shards.read_vocab(dirs["private"]))
    assert as_written["keep_numbers"] is True and as_written["normalized"] == {}
    assert "617" in shards.read_vocab(dirs["as_written"])
    # the same corpus and seed: the same emails in each split either way
    assert private["corpus"]["sha256"] == as_written["corpus"]["sha256"]

    result = CliRunner().invoke(train_command, [
        "--data", str(dirs["as_written"]), "--out", str(tmp_path / "m"), "--units", "8",
        "--embedding-dim", "8", "--projection", "0", "--batch-size", "8", "--updates", "2",
        "--no-grad-stats", "--quiet"])
    assert result.exit_code == 0, result.output
    assert artifacts.read_config(tmp_path / "m")["keep_numbers"] is True  # DIR's choice
    result = CliRunner().invoke(train_command, ["--data", str(dirs["private"]),
                                                "--keep-numbers", "--out", str(tmp_path / "n")])
    assert result.exit_code == 1 and "--keep-numbers (it was prepared without)" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "n").exists()


def test_shards_with_subjects_and_train_data_takes_them(prepared, tmp_path):
    """`prepare --subject` writes the texts `train --subject` reads; `train --data` follows."""
    corpus = tmp_path / "mail.csv"
    emails = tiny_emails(40)
    emails["subject"] = [f"Topic {i % 3}" for i in range(40)]
    emails["text"] = emails["body"] + [f" ref {i}." for i in range(40)]
    emails[["subject", "text"]].to_csv(corpus, index=False)
    out = tmp_path / "subjects"
    result = CliRunner().invoke(prepare, [str(corpus), "--out", str(out), "--window",
                                          str(WINDOW), "--no-progress", "--subject"])
    assert result.exit_code == 0, result.output
    manifest = shards.read_manifest(out)
    assert manifest["subject"] is True
    assert shards.read_manifest(prepared[1])["subject"] is False
    data = prepare_data(TrainConfig(window=WINDOW, subject=True), load_emails(str(corpus)))
    assert shards.read_vocab(out) == data["vocab"] and "xxbody" in data["vocab"]
    for mine, theirs in zip(shards.read_windows(out, "train"), data["windows"]["train"],
                            strict=True):
        np.testing.assert_array_equal(mine, theirs)  # what `train --corpus --subject` builds

    result = CliRunner().invoke(train_command, [
        "--data", str(out), "--out", str(tmp_path / "m"), "--units", "8", "--embedding-dim",
        "8", "--projection", "0", "--batch-size", "8", "--updates", "2", "--no-grad-stats",
        "--quiet"])
    assert result.exit_code == 0, result.output
    assert artifacts.read_config(tmp_path / "m")["subject"] is True  # DIR's choice
    result = CliRunner().invoke(train_command, ["--data", str(prepared[1]), "--subject",
                                                "--out", str(tmp_path / "n")])
    assert result.exit_code == 1 and "--subject (it was prepared without)" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "n").exists()


def test_prepare_summary_writes_large_medians_in_full():
    from autocomplete.commands.prepare import corpus_stats

    rows = dict(corpus_stats(["one two three"] * 2 + ["word " * 2_000_001]))
    assert rows["median words per email"] == "3"
    assert dict(corpus_stats(["a " * 2_000_001]))["median words per email"] == "2,000,001"
    assert dict(corpus_stats(["a b", "a b c"]))["median words per email"] == "2.5"
