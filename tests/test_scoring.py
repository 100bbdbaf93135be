"""The batched scorers of `autocomplete.evaluate.scoring` against direct computations."""

import numpy as np
import pytest

from autocomplete.evaluate.scoring import evaluate_packed_windows


@pytest.mark.parametrize("padding", ["scattered", "trailing"])
def test_evaluate_packed_windows_matches_a_direct_computation(padding):
    """Also when batches of windows sorted by length are cut to their longest window."""
    from autocomplete.model import build_model

    model = build_model("gru", 12, units=4, embedding_dim=3, seed=1)
    rng = np.random.default_rng(0)
    x = rng.integers(2, 12, (5, 7)).astype("int32")
    y = rng.integers(1, 12, (5, 7)).astype("int32")  # 1 is [UNK]: never a correct guess
    if padding == "scattered":
        w = (rng.random((5, 7)) > 0.2).astype("float32")
    else:  # packed windows of lengths 7, 2, 5, 3, 6
        w = (np.arange(7) < np.array([7, 2, 5, 3, 6])[:, None]).astype("float32")
    got = evaluate_packed_windows(model, (x, y, w), batch_size=2)

    logits = np.asarray(model(x), dtype=np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    true = np.take_along_axis(logp, y[..., None], -1)[..., 0]
    mask, order = w > 0, np.argsort(-logits, axis=-1)
    known = mask & (y != 1)
    assert got["tokens"] == mask.sum()
    assert got["perplexity"] == pytest.approx(np.exp(-true[mask].mean()), rel=1e-5)
    assert got["top1_accuracy"] == pytest.approx((known & (order[..., 0] == y)).sum() / mask.sum())
    top5 = (order[..., :5] == y[..., None]).any(-1)
    assert got["top5_accuracy"] == pytest.approx((known & top5).sum() / mask.sum())


def test_evaluate_packed_windows_batches_within_the_logits_budget(monkeypatch):
    """By default a batch holds as many windows as the logits budget allows; scores agree."""
    from autocomplete.evaluate import scoring
    from autocomplete.model import build_model

    model = build_model("lstm", 12, units=4, embedding_dim=3, seed=1)
    rng = np.random.default_rng(1)
    x = rng.integers(2, 12, (5, 7)).astype("int32")
    y = rng.integers(1, 12, (5, 7)).astype("int32")
    w = np.ones((5, 7), "float32")
    calls = []
    real = scoring._scorer(model)

    def counted(xb, yb):
        calls.append(len(xb))
        return real(xb, yb)

    monkeypatch.setitem(scoring._SCORERS, model, counted)
    whole = evaluate_packed_windows(model, (x, y, w))
    assert calls == [5]  # 5 windows x 7 tokens x 12 logits: far within the budget
    calls.clear()
    monkeypatch.setattr(scoring, "LOGITS_BUDGET", 2 * 7 * 12)  # two windows' logits
    small = evaluate_packed_windows(model, (x, y, w))
    assert calls == [2, 2, 1]
    assert small == pytest.approx(whole)


def test_progress_in_a_log_is_one_line_without_redraws(capsys):
    from autocomplete.evaluate.scoring import progress_bar

    bar = progress_bar(total=3, desc="lstm perplexity", disable=False)  # stderr: not a terminal
    for _ in range(3):
        bar.update(1)
    bar.close()
    err = capsys.readouterr().err
    assert "\r" not in err and err.count("\n") == 1
    assert err.startswith("lstm perplexity: 3 of 3 in ")
    quiet = progress_bar(total=3, desc="x", disable=True)
    quiet.update(3)
    quiet.close()
    assert capsys.readouterr().err == ""
