"""Text prep: tokens, split by email, vectorize/detokenize, windows."""

import numpy as np
import pandas as pd
import pytest

from autocomplete import textprep
from autocomplete.tokens import START, detokenize, tokenize

TEXTS = [
    "Today due to my current job situation and family condition, I need to take a loan.",
    "Rebecca's invoice for $4,250 is due at 10:30 (see the follow-up). Don't worry!",
    "Hi Mark,\n\nCan we meet on May 4, 2025 in Chicago? Thanks, Anna",
]


def test_detokenize_inverts_tokenize():
    for text in TEXTS:
        assert detokenize(tokenize(text)) == text.lower().replace("\n\n", " ").replace("\n", " ")


def test_punctuation_is_its_own_token():
    assert tokenize("I need to take a loan.")[-2:] == ["loan", "."]
    assert tokenize("Rebecca's")[:3] == ["rebecca", "'", "s"]


def test_textvectorization_agrees_with_tokenize():
    vocab = ["", "[UNK]", START] + sorted({t for s in TEXTS for t in tokenize(s)})
    ids = textprep.encode(textprep.make_vectorizer(vocab), TEXTS)
    for text, seq in zip(TEXTS, ids, strict=True):
        assert seq[0] == textprep.START_ID
        assert [vocab[i] for i in seq[1:]] == tokenize(text)


def test_vocabulary_from_training_texts_only():
    vocab = textprep.build_vocabulary(["alpha beta beta.", "beta gamma"], max_tokens=100)
    assert vocab[:3] == ["", "[UNK]", START]
    assert set(vocab[3:]) == {"alpha", "beta", "gamma", "."}
    assert vocab[3] == "beta"  # most frequent first
    vectorizer = textprep.make_vectorizer(vocab)
    assert textprep.encode(vectorizer, ["beta zeta"])[0].tolist() == [2, 3, 1]


def test_split_is_by_email_and_seeded():
    df = pd.DataFrame({"id": [f"e{i}" for i in range(100)], "body": ["x"] * 100})
    a = textprep.split_by_email(df, seed=3)
    b = textprep.split_by_email(df, seed=3)
    ids = [set(part["id"]) for part in a.values()]
    assert sum(map(len, ids)) == 100 and set.union(*ids) == set(df["id"])
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert [len(p) for p in a.values()] == [80, 10, 10]
    assert all(a[k]["id"].tolist() == b[k]["id"].tolist() for k in a)


def test_windows_targets_are_inputs_shifted():
    seqs = [np.arange(2, 2 + n, dtype=np.int32) for n in (5, 7, 30)]
    x, y, w = textprep.make_windows(seqs, window=8, seed=0)
    assert x.shape == y.shape == w.shape and x.shape[1] == 8
    for xi, yi, wi in zip(x, y, w, strict=True):
        valid = wi > 0
        assert (xi[1:][valid[:-1]] == yi[:-1][valid[:-1]]).all()
        assert (yi[~valid] == 0).all()
    # every token after the first of each email is a target exactly once
    targets = sorted(y[w > 0].tolist())
    expected = sorted(t for s in seqs for t in s[1:].tolist())
    assert targets == expected


def test_short_emails_are_packed_whole():
    seqs = [np.array([2, 10, 11, 12], np.int32), np.array([2, 20, 21], np.int32)]
    x, y, w = textprep.make_windows(seqs, window=10)
    assert len(x) == 1
    row = x[0][w[0] > 0].tolist() + [y[0][w[0] > 0][-1]]
    assert row in ([2, 10, 11, 12, 2, 20, 21], [2, 20, 21, 2, 10, 11, 12])


def test_stride_overlaps_long_emails():
    seq = [np.arange(2, 42, dtype=np.int32)]
    x, _, _ = textprep.make_windows(seq, window=10, stride=5)
    assert sorted(row[0] for row in x) == list(range(2, 33, 5))  # the last one reaches the end
    with pytest.raises(ValueError):
        textprep.make_windows(seq, window=10, stride=11)


def _varied_windows(window: int = 24):
    rng = np.random.default_rng(3)
    # longer than half a window: one email a window, of lengths spread over the second half
    seqs = [np.concatenate([[2], rng.integers(3, 40, rng.integers(window // 2, window))])
            .astype(np.int32)
            for _ in range(90)]
    return textprep.make_windows(seqs, window, seed=0)


def test_batches_group_windows_by_length_and_keep_every_target():
    x, y, w = _varied_windows()
    full = (x.shape[1], len(x))
    batches = [tuple(t.numpy() for t in b) for b in textprep.make_dataset((x, y, w), 4, seed=1)]
    assert len(batches) == -(-full[1] // 4)
    for xb, yb, wb in batches:
        assert len(xb) <= 4 and xb.shape == yb.shape == wb.shape
        assert wb[:, -1].any()  # cut to its longest window, no further
    # padded back, the targets of a pass are every window's once
    padded = sorted(bytes(np.pad(row, (0, full[0] - len(row)))) for b in batches for row in b[1])
    assert padded == sorted(map(bytes, y))
    # grouped by length: far fewer positions than full-width batches
    positions = sum(b[0].size for b in batches)
    assert positions < 0.8 * full[0] * full[1]
    lengths = textprep.window_lengths(w).numpy()
    assert positions < 0.9 * sum(max(lengths[i : i + 4]) * len(lengths[i : i + 4])
                                 for i in range(0, len(lengths), 4))  # than random batches


def test_a_cut_batch_has_the_loss_and_gradients_of_the_whole_batch():
    import tensorflow as tf

    from autocomplete.losses import NextTokenCrossEntropy
    from autocomplete.model import build_model

    x, y, w = _varied_windows()
    order = np.argsort(textprep.window_lengths(w).numpy())[:6]  # the shortest windows
    x, y, w = x[order], y[order], w[order]
    width = int(textprep.window_lengths(w).numpy().max())
    assert width < x.shape[1] - 4
    model = build_model("lstm", 40, units=8, embedding_dim=4, seed=0)
    loss = NextTokenCrossEntropy()
    results = []
    for cut in (x.shape[1], width):
        with tf.GradientTape() as tape:
            value = loss(y[:, :cut], model(x[:, :cut]), sample_weight=w[:, :cut])
        results.append((value.numpy(), tape.gradient(value, model.trainable_weights)))
    (whole, whole_grads), (cut, cut_grads) = results
    assert cut == pytest.approx(whole, rel=1e-6)
    for a, b in zip(whole_grads, cut_grads, strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), atol=1e-7)


def test_word_dropout_replaces_inputs_only_never_specials_and_repeats_by_seed():
    import tensorflow as tf

    from autocomplete.tokens import OOV_ID, SPECIAL_IDS

    rng = np.random.default_rng(0)
    x = rng.integers(0, 40, size=(6, 4, 50)).astype("int32")
    y = rng.integers(3, 40, size=x.shape).astype("int32")
    w = np.ones(x.shape, "float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).repeat()

    def batches(rate, seed):
        return [tuple(t.numpy() for t in b) for b in textprep.drop_words(ds, rate, seed).take(12)]

    dropped = batches(0.3, 1)
    xs, x_out = np.concatenate([x, x]), np.stack([b[0] for b in dropped])
    changed = x_out != xs
    assert (x_out[changed] == OOV_ID).all()
    assert (xs[changed] > max(SPECIAL_IDS)).all()  # pad, [UNK] and [start] are never dropped
    assert 0.2 < changed.sum() / (xs > max(SPECIAL_IDS)).sum() < 0.4
    assert all((b[1] == t).all() and (b[2] == 1).all()
               for b, t in zip(dropped, [*y, *y], strict=True))
    # the second pass over the same windows drops other words: each batch has its own draw
    assert (dropped[0][0] != dropped[6][0]).any()
    assert all((a[0] == b[0]).all() for a, b in zip(dropped, batches(0.3, 1), strict=True))
    assert any((a[0] != b[0]).any() for a, b in zip(dropped, batches(0.3, 2), strict=True))
    assert textprep.drop_words(ds, 0.0, 1) is ds
    # ids in `keep` (the subject separator's) stay too
    kept = np.stack([b[0] for b in textprep.drop_words(ds, 0.3, 1, keep=(7, 9)).take(12)])
    assert ((kept == xs) | ~np.isin(xs, (7, 9))).all()
    assert (kept[~np.isin(xs, (7, 9))] == x_out[~np.isin(xs, (7, 9))]).all()


def test_rare_word_dropout_drops_each_word_by_its_count():
    """alpha / (alpha + n) per id: a word never read is always dropped, one read alpha
    times half the time, and the specials never."""
    import tensorflow as tf

    from autocomplete.tokens import OOV_ID, SPECIAL_IDS

    inputs = np.array([[5] * 10 + [6] * 990 + [0] * 5])
    rates = textprep.rare_word_rates(inputs, 8, alpha=10.0)
    np.testing.assert_allclose(rates[[5, 6, 7]], [0.5, 10 / 1000, 1.0])
    x = np.tile(np.array([[1, 2, 5, 6, 7]], "int32"), (4000, 1))
    ds = tf.data.Dataset.from_tensor_slices((x, x, np.ones(x.shape, "float32"))).batch(1000)
    out = np.concatenate([b[0].numpy() for b in textprep.drop_words(ds, rates, 3)])
    dropped = (out == OOV_ID).mean(axis=0)
    assert (out[:, :2] == x[:, :2]).all() and max(SPECIAL_IDS) >= 2  # never the specials
    assert abs(dropped[2] - 0.5) < 0.05 and dropped[3] < 0.02 and dropped[4] == 1.0
