"""Turn `compare.Results` into terminal tables, PNG plots, compare.md and compare.html.

The Markdown and the HTML are rendered from one list of blocks (`_document`),
so they always say the same thing. The HTML is self-contained: inline CSS and
the plots embedded as base64 data URIs, no external resource of any kind.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from autocomplete.decoding_defaults import MAX_WORDS
from autocomplete.model_names import CELL_NAMES
from autocomplete.report.compare import EM_NUMBERS, GRAD_LAG, Results

PNG_NAMES = {
    "recall": "recall_by_distance.png",
    "heldout": "recall_seen_vs_heldout.png",
    "grad_flow": "grad_flow.png",
    "curves": "training_curves.png",
}
MD_NAME = "compare.md"
HTML_NAME = "compare.html"
DPI = 120
NA = "n/a"  # a figure that is missing (e.g. no gradient statistics)
DASH = "-"  # a figure that does not apply (e.g. epochs of the n-gram)

SUMMARY_HEADERS = {  # column -> (long header for md/html, short header for the terminal)
    "model": ("model", "model"),
    "parameters": ("parameters", "params"),
    "train_seconds": ("training time", "train"),
    "epochs": ("epochs", "epochs"),
    "perplexity": ("test perplexity", "ppl"),
    "top1": ("top-1", "top-1"),
    "top5": ("top-5", "top-5"),
    **{f"em{n}": (f"EM@{n}", f"EM@{n}") for n in EM_NUMBERS},
    "latency_median_ms": ("latency median (ms)", "ms med"),
    "latency_p90_ms": ("latency p90 (ms)", "ms p90"),
    "grad_ratio": (f"grad lag-{GRAD_LAG}/lag-1", f"grad {GRAD_LAG}/1"),
}


# --------------------------------------------------------------------- formatting
def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _pct(v) -> str:
    return NA if _missing(v) else f"{100 * float(v):.1f}%"


def _seconds(v) -> str:
    if _missing(v):
        return NA
    v = float(v)
    if v < 1:
        return f"{v:.2f} s"
    if v < 120:
        return f"{v:.0f} s"
    if v < 7200:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.1f} h"


def _ppl(v) -> str:
    if _missing(v):
        return NA
    return f"{v:.0f}" if v >= 1000 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _ratio(row: pd.Series) -> str:
    if row["type"] != "neural":
        return DASH
    v = row["grad_ratio"]
    if _missing(v):
        return NA
    text = "0" if v == 0 else f"{v:.1e}" if abs(v) < 0.01 else f"{v:.2f}"
    lag = row.get("grad_lag")
    if not _missing(lag) and int(lag) != GRAD_LAG:
        text += f" (lag {int(lag)})"
    return text


def summary_table(results: Results, short: bool = False) -> pd.DataFrame:
    """The summary as strings: one row per model, headers for md/html or the terminal."""
    rows = []
    for _, r in results.summary.iterrows():
        neural = r["type"] in ("neural", "blend")  # trained, not fitted
        row = {
            "model": r["model"],
            "parameters": NA if _missing(r["parameters"]) else f"{int(r['parameters']):,}",
            "train_seconds": _seconds(r["train_seconds"]) + ("" if neural else " fit"),
            "epochs": (NA if _missing(r["epochs"]) else str(int(r["epochs"]))) if neural
            else DASH,
            "perplexity": _ppl(r["perplexity"]),
            "top1": _pct(r["top1"]),
            "top5": _pct(r["top5"]),
            **{f"em{n}": _pct(r[f"em{n}"]) for n in EM_NUMBERS},
            "latency_median_ms": NA if _missing(r["latency_median_ms"])
            else f"{r['latency_median_ms']:.1f}",
            "latency_p90_ms": NA if _missing(r["latency_p90_ms"])
            else f"{r['latency_p90_ms']:.1f}",
            "grad_ratio": _ratio(r),
        }
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(SUMMARY_HEADERS))
    return table.rename(columns={k: v[1 if short else 0] for k, v in SUMMARY_HEADERS.items()})


def recall_table(results: Results, value: str = "recall") -> pd.DataFrame:
    """Recall (or top-1) by distance band as strings; rows models + chance."""
    table = results.recall_table(value)
    out = table.map(lambda v: NA if _missing(v) else f"{v:.2f}")
    out.columns = [f"{c} tokens" for c in out.columns]
    return out.reset_index()


def recall_by_kind_table(results: Results) -> pd.DataFrame:
    """Recall per (model, kind) by distance band, as strings."""
    rec = results.recall[results.recall["kind"] != "all"]
    if rec.empty:
        return pd.DataFrame()
    table = rec.pivot_table(index=["kind", "model"], columns="band", values="recall",
                            observed=False, aggfunc="first")
    order = {m: i for i, m in enumerate(results.models)}
    table = table.reindex(columns=results.bands)
    table = table.iloc[sorted(range(len(table)), key=lambda i: (
        table.index[i][0], order.get(table.index[i][1], 99)))]
    out = table.map(lambda v: NA if _missing(v) else f"{v:.2f}")
    out.columns = [f"{c} tokens" for c in out.columns]
    return out.reset_index()


def memory_table(results: Results) -> pd.DataFrame:
    """Recall per (kind, model) by band as "seen / held-out" strings (seen: test split)."""
    table = results.memory_table()
    if table.empty:
        return pd.DataFrame()
    out = pd.DataFrame(index=table.index)
    for band in results.bands:
        seen, held = table[(band, "seen")], table.get((band, "held-out"))
        out[f"{band} tokens"] = [
            f"{NA if _missing(a) else f'{a:.2f}'} / "
            f"{NA if b is None or _missing(b) else f'{b:.2f}'}"
            for a, b in zip(seen, held if held is not None else [None] * len(seen),
                            strict=True)]
    return out.reset_index()


def counts_table(results: Results, heldout: bool = False) -> pd.DataFrame:
    """Probes per kind and band, with totals (of the held-out-template probes if `heldout`)."""
    counts = (results.probe_counts_heldout if heldout else results.probe_counts).copy()
    if counts.empty:
        return pd.DataFrame()
    counts.columns = [str(c) for c in counts.columns]
    counts.loc["total"] = counts.sum()
    counts["total"] = counts.sum(axis=1)
    counts.index.name = "kind"
    return counts.reset_index().astype(str)


def completion_table(results: Results) -> pd.DataFrame:
    table = results.completion_table()
    if table.empty:
        return table
    table = table.map(lambda t: "(nothing)" if _missing(t) or not str(t).strip() else str(t))
    table.index.name = "prompt"
    return table.reset_index()


def text_table(df: pd.DataFrame) -> str:
    """A plain, left-aligned text table."""
    if df.empty:
        return "(none)"
    cols = [str(c) for c in df.columns]
    cells = [[str(v) for v in row] for row in df.itertuples(index=False)]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip()  # noqa: E731, E501
    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, cells)]).rstrip()


def terminal_report(results: Results) -> str:
    """The tables printed by `autocomplete report` (summary, recall, probes, seen against
    held-out templates, completions)."""
    parts = [
        "Summary (test split; top-k and ExactMatch in %; latency of one beam-search completion)",
        text_table(summary_table(results, short=True)),
        "",
        "Recall by distance (all kinds): share of probes where the cue's target beats the "
        "other targets",
        text_table(recall_table(results)),
        "",
        "Probes per kind and distance band",
        text_table(counts_table(results)),
    ]
    if not results.recall_heldout.empty:
        parts += [
            "",
            "Memory or memorization: recall by kind and band, seen templates (test split) / "
            "held-out templates",
            text_table(memory_table(results)),
            "",
            "Held-out-template probes per kind and distance band",
            text_table(counts_table(results, heldout=True)),
        ]
    comp = results.completion_table()
    if not comp.empty:
        words = results.settings.get("decoding", {}).get("max_words", MAX_WORDS)
        parts += ["", f"Completions (beam search, at most {words} words)"]
        width = max(len(m) for m in comp.columns)
        for prompt, row in comp.iterrows():
            parts.append(f"{prompt} ...")
            for model, text in row.items():
                parts.append(f"  {model:<{width}}  {text if str(text).strip() else '(nothing)'}")
    if results.notes:
        parts += ["", "Notes:"] + [textwrap.fill(n, 100, initial_indent="- ",
                                                 subsequent_indent="  ") for n in results.notes]
    return "\n".join(parts)


# --------------------------------------------------------------------------- plots
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 13, "axes.labelsize": 11,
                         "legend.fontsize": 10})
    return plt


def _model_styles(models: Sequence[str]) -> dict[str, dict]:
    """One colour per model, fixed per cell name (simple_rnn blue, lstm orange, gru green)
    in every plot; the n-gram is grey and dotted."""
    styles: dict[str, dict] = {}
    used: set[int] = set()
    free = (k for k in range(len(CELL_NAMES), 10))
    for m in models:
        if m.startswith("ngram"):
            styles[m] = {"color": "0.45", "marker": "s", "linestyle": ":"}
            continue
        cell = m.split(" ")[0]
        k = CELL_NAMES.index(cell) if cell in CELL_NAMES else None
        if k is None or k in used:
            k = next(free, 9)
        used.add(k)
        styles[m] = {"color": f"C{k}", "marker": "o", "linestyle": "-"}
    return styles


def plot_recall(results: Results, path: Path) -> Path:
    """Recall against distance band: all kinds (top), then one small panel per kind."""
    plt = _pyplot()
    bands = results.bands
    kinds = sorted(k for k in results.recall["kind"].unique() if k != "all")
    styles = _model_styles(results.models)
    fig = plt.figure(figsize=(11, 8.5 if kinds else 5.5))
    grid = fig.add_gridspec(2 if kinds else 1, max(len(kinds), 1),
                            height_ratios=[1.4, 1] if kinds else [1])
    main = fig.add_subplot(grid[0, :])
    panels = [("all", main)] + [(k, fig.add_subplot(grid[1, i])) for i, k in enumerate(kinds)]
    counts = results.recall[results.recall["kind"] == "all"].groupby(
        "band", observed=False)["n"].first()
    x = np.arange(len(bands))
    # a small sideways shift per model, so equal values do not hide each other
    shift = {m: 0.04 * (i - (len(results.models) - 1) / 2) for i, m in enumerate(results.models)}
    for kind, ax in panels:
        sel = results.recall[results.recall["kind"] == kind]
        for model in results.models:
            rows = sel[sel["model"] == model].set_index("band").reindex(bands)
            ax.plot(x + shift[model], rows["recall"].to_numpy(dtype=float), label=model,
                    markersize=7 if kind == "all" else 5, linewidth=2 if kind == "all" else 1.5,
                    **styles[model])
        chance = sel.groupby("band", observed=False)["chance"].mean().reindex(bands)
        ax.plot(x, chance.to_numpy(dtype=float), color="black", linestyle="--", linewidth=1.2,
                label="chance")
        ax.set_ylim(0, 1.02)
        ax.set_xticks(x)
        ax.grid(True, alpha=0.3)
        if kind == "all":
            labels = [f"{b}\n(n={int(counts.get(b, 0)) if not _missing(counts.get(b)) else 0})"
                      for b in bands]
            ax.set_xticklabels(labels)
            ax.set_title("Recall of the cue-determined word by distance from its cue "
                         "(all kinds)")
            ax.set_xlabel("distance from cue to target (tokens)")
            ax.set_ylabel("recall (target beats the other targets)")
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        else:
            ax.set_xticklabels(bands, fontsize=9)
            ax.set_title(f"kind: {kind}", fontsize=11)
            ax.set_xlabel("distance (tokens)", fontsize=10)
            if ax is panels[1][1]:
                ax.set_ylabel("recall", fontsize=10)
    if results.recall.empty:
        main.text(0.5, 0.5, "no probes (the corpus has no planted dependencies)",
                  ha="center", va="center", transform=main.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_seen_vs_heldout(results: Results, path: Path) -> Path:
    """Recall by band per kind: seen templates (solid) against held-out templates (dashed)."""
    plt = _pyplot()
    bands = results.bands
    frames = {"seen templates": (results.recall, "-"),
              "held-out templates": (results.recall_heldout, "--")}
    kinds = sorted({k for f, _ in frames.values() if not f.empty for k in f["kind"].unique()},
                   key=lambda k: (k != "all", k)) or ["all"]
    styles = _model_styles(results.models)
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.4 * len(kinds) + 2, 4.2), sharey=True,
                             squeeze=False)
    x = np.arange(len(bands))
    for ax, kind in zip(axes[0], kinds, strict=True):
        for split, (frame, linestyle) in frames.items():
            if frame.empty:
                continue
            sel = frame[frame["kind"] == kind]
            for model in results.models:
                rows = sel[sel["model"] == model].set_index("band").reindex(bands)
                style = {**styles[model], "linestyle": linestyle}
                ax.plot(x, rows["recall"].to_numpy(dtype=float), label=f"{model}, {split}",
                        markersize=5, linewidth=1.6, **style)
        chance = results.recall[results.recall["kind"] == kind].groupby(
            "band", observed=False)["chance"].mean().reindex(bands)
        ax.plot(x, chance.to_numpy(dtype=float), color="black", linestyle=":", linewidth=1.2,
                label="chance")
        ax.set_ylim(0, 1.02)
        ax.set_xticks(x)
        ax.set_xticklabels(bands, fontsize=8, rotation=30)
        ax.set_title(f"kind: {kind}", fontsize=11)
        ax.set_xlabel("distance (tokens)", fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("recall")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
               fontsize=9)
    fig.suptitle("Memory or memorization: recall on seen (solid) and held-out (dashed) "
                 "templates")
    if results.recall_heldout.empty:
        axes[0][0].text(0.5, 0.5, "no held-out-template probes\n(built-in corpus only)",
                        ha="center", va="center", transform=axes[0][0].transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_training_curves(results: Results, path: Path) -> Path:
    """Validation perplexity per epoch per cell (training perplexity dashed), log y if needed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    styles = _model_styles(results.models)
    values: list[float] = []
    max_epoch = 1
    for model, hist in results.histories.items():
        epochs = (hist["epoch"] + 1 if "epoch" in hist else pd.Series(range(1, len(hist) + 1)))
        style = styles.get(model, {"color": "C9"})
        max_epoch = max(max_epoch, int(epochs.max()) if len(epochs) else 1)
        for col, dashed, label in (("val_perplexity", False, f"{model} validation"),
                                   ("perplexity", True, f"{model} training")):
            if col not in hist:
                continue
            y = hist[col].to_numpy(dtype=float)
            values += [v for v in y if np.isfinite(v) and v > 0]
            ax.plot(epochs, y, color=style["color"], marker="o", markersize=4 if dashed else 6,
                    markerfacecolor="white" if dashed else style["color"],
                    linestyle="--" if dashed else "-", alpha=0.55 if dashed else 1.0,
                    linewidth=1.3 if dashed else 2, label=label)
    if values and max(values) / min(values) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity (lower is better)")
    ax.set_title("Training curves: perplexity per epoch (validation solid, training dashed)")
    ax.set_xticks(range(1, max_epoch + 1, max(1, max_epoch // 12)))
    ax.grid(True, which="both", alpha=0.3)
    if values:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    else:
        ax.text(0.5, 0.5, "no history.csv in the model directories", ha="center",
                va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_grad_flow(results: Results, path: Path) -> Path:
    """Gradient flow against lag at the kept weights (the gradients module's data), log y.

    Same picture as `autocomplete gradients`' grad_flow.png, with the report's
    colours and the lag of the summary's ratio marked; a figure saying why when
    no model recorded gradient flow.
    """
    from autocomplete.report.gradients import kept_curve, load_grad_tables

    plt = _pyplot()
    styles = _model_styles(results.models)
    fig, ax = plt.subplots(figsize=(9, 5) if results.grad_flow_dirs else (9, 3))
    drawn = 0
    for model, d in results.grad_flow_dirs.items():
        _, flow = load_grad_tables(d)
        if flow.empty:
            continue
        last = kept_curve(flow)
        last = last[np.isfinite(last["value"]) & (last["value"] > 0)]
        ax.plot(last["lag"], last["value"], color=styles.get(model, {}).get("color"),
                linewidth=2, label=model)
        drawn += 1
    ax.set_title("Gradient flow through time (kept weights, held-out probe)")
    if drawn:
        ax.axvline(GRAD_LAG, color="0.5", linestyle=":", linewidth=1)
        ax.text(GRAD_LAG, 0.98, f" lag {GRAD_LAG}", transform=ax.get_xaxis_transform(),
                ha="left", va="top", fontsize=9, color="0.35")
        ax.set_yscale("log")
        ax.set_xlabel("lag k (positions before the predicted one)")
        ax.set_ylabel("|d loss(last) / d input(last - k)|")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "No gradient-flow records: the models were trained without gradient "
                "statistics\n(train without --no-grad-stats to get them).",
                ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


# ------------------------------------------------------------------------ document
def _document(results: Results) -> list[tuple]:
    """The report as blocks: ("h1"|"h2"|"p", text), ("table", df), ("img", key, alt)."""
    s = results.settings
    models = ", ".join(f"{m} ({p})" for m, p in s.get("models", {}).items())
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    skipped = s.get("probe_skipped") or {}
    blocks: list[tuple] = [
        ("h1", "Comparing SimpleRNN, LSTM and GRU on email completion"),
        ("p", f"Generated {when}{' (quick run)' if s.get('quick') else ''}. Models: {models}. "
              f"Baseline: interpolated Kneser-Ney n-gram of order {s.get('ngram_order')} "
              "fitted on the same training split with the same vocabulary."),
        ("p", f"Test split: {s.get('test_emails')} held-out emails of {s.get('corpus')} "
              f"(split by email with seed {s.get('seed')}, exactly as in training); "
              f"{s.get('evaluated_test_emails')} of them ({s.get('tokens_scored'):,} tokens) "
              "scored for perplexity, accuracy and ExactMatch."),
        ("h2", "Summary"),
        ("table", summary_table(results)),
        ("p", "Perplexity, top-1 and top-5 are computed here for every model with one "
              "definition: each test email scored on its own from [start] (a neural model "
              "sees at most its training window, the n-gram its last order-1 tokens); top-k "
              "ranks the true next token among the suggestible tokens (not padding, [UNK] "
              "or [start]), ties count against the model; an out-of-vocabulary target counts "
              "in perplexity and is never correct. The figures `train` printed (metrics.json, "
              "kept in --json as train_eval_*) differ slightly: they score packed training "
              "windows, where context crosses email boundaries, and keep the special tokens "
              "as candidates."),
        ("p", f"ExactMatch@N (Smart Compose): the email is cut at a random token, the model "
              f"completes it greedily, and a hit needs the first N completion tokens to equal "
              f"the true next N (punctuation is a token); {_cuts(s)}. Latency: median and "
              f"90th percentile of one beam-search completion (beam "
              f"{s.get('decoding', {}).get('beam')}, at most "
              f"{s.get('decoding', {}).get('max_words')} words) of each lecture prompt, "
              "through the engine `autocomplete complete` uses. Parameters of the n-gram: "
              "stored probabilities and back-off weights. Gradient ratio: gradient flow at "
              f"lag {GRAD_LAG} over lag 1 at the kept weights (small = vanishing gradient)."),
        ("h2", "Recall by distance"),
        ("p", "Each probe feeds a test email up to a word that only an earlier cue "
              "determines (the reason -> loan/sick/flight/vacation, the time word -> "
              "need/needed/will, a project name repeated), and counts a hit when the model "
              "gives the right word a higher probability than the other words of that kind. "
              "Chance is a uniform guess among them; a model that only knows which word "
              "is most frequent there can beat it a little, which is what the n-gram, "
              "seeing only its last few tokens, shows. Recall falling to that level with "
              "distance is the vanishing gradient at work."),
        ("img", "recall", "Recall by distance band, one line per model, with chance"),
        ("table", recall_table(results)),
    ]
    by_kind = recall_by_kind_table(results)
    if not by_kind.empty:
        blocks += [("p", "Recall per kind of dependency:"), ("table", by_kind)]
    top1 = results.recall_table("top1")
    if not top1.empty:
        blocks += [("p", "Stricter: share of probes where the target is the top-1 "
                         "suggestion among all words:"),
                   ("table", recall_table(results, "top1").iloc[:-1])]
    counts = counts_table(results)
    skip_text = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in skipped.items() if v)
    blocks += [
        ("p", "Probes per kind and distance band"
              + (f" (skipped: {skip_text})" if skip_text else "") + ":"),
        ("table", counts),
        ("h2", "Memory or memorization: seen and held-out templates"),
        ("p", "The probes above come from test emails, which are built from the same "
              "templates as the training emails: the same cue phrasings and the same parts "
              "of the filler between cue and target. The held-out-template probes "
              f"({s.get('heldout_probes', 0)} probes from {s.get('heldout_emails', 0)} "
              "generated emails) use cue phrasings, project frames and filler parts that "
              "never occur in the corpus, with the same reasons, time words and project "
              "names. Recall that holds on them is memory of the cue; recall that drops "
              "there was memorization of the templates. Words of the held-out parts that "
              "are not in a model's vocabulary reach it as [UNK]."),
        ("img", "heldout", "Recall per kind and band on seen and held-out templates"),
    ]
    if results.recall_heldout.empty:
        blocks += [("p", "No held-out-template probes: the models were not trained on the "
                         "built-in corpus, whose generator makes them.")]
    else:
        blocks += [
            ("p", "Recall, seen templates (test split) / held-out templates:"),
            ("table", memory_table(results)),
            ("p", "Held-out-template probes per kind and distance band:"),
            ("table", counts_table(results, heldout=True)),
        ]
    blocks += [
        ("h2", "Gradient flow"),
        ("p", "Norm of the gradient of the last prediction's loss with respect to the input "
              "k positions earlier, at the kept weights (the epoch early stopping kept), "
              "on a held-out probe (from `autocomplete gradients`). A SimpleRNN's curve "
              "falls geometrically with the lag; gated cells keep a path along which it "
              "does not."),
        ("img", "grad_flow", "Gradient flow against lag, one line per model"),
        ("h2", "Training curves"),
        ("img", "curves", "Validation perplexity per epoch per cell"),
        ("h2", "Completions of the lecture's sentence"),
        ("p", "Beam search, at most 12 words, each prompt completed by every model. The "
              "lecture's answer to the first prompt is \"need to take a loan.\"; the "
              "variants change the tense or the reason, which the completion should follow."),
        ("table", completion_table(results)),
    ]
    if results.notes:
        blocks += [("h2", "Notes")] + [("li", n) for n in results.notes]
    return blocks


def _cuts(settings: dict) -> str:
    cuts = settings.get("exact_match_cuts")
    return "one cut per eligible test email" if cuts is None else f"{cuts} cuts"


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown(results: Results, images: dict[str, str]) -> str:
    """compare.md; `images` maps block keys to image file names (relative links)."""
    out: list[str] = []
    for block in _document(results):
        kind = block[0]
        if kind == "h1":
            out.append(f"# {block[1]}\n")
        elif kind == "h2":
            out.append(f"## {block[1]}\n")
        elif kind == "p":
            out.append(textwrap.fill(block[1], 100) + "\n")
        elif kind == "li":
            out.append(textwrap.fill(block[1], 100, initial_indent="- ",
                                     subsequent_indent="  "))
        elif kind == "img":
            out.append(f"![{block[2]}]({images[block[1]]})\n")
        elif kind == "table":
            df = block[1]
            if df.empty:
                out.append("(none)\n")
                continue
            cols = [_md_cell(c) for c in df.columns]
            out.append("| " + " | ".join(cols) + " |")
            out.append("|" + "|".join("---" if i == 0 else "---:" if _numeric(df.iloc[:, i])
                                      else "---" for i in range(len(cols))) + "|")
            for row in df.itertuples(index=False):
                out.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _numeric(col: pd.Series) -> bool:
    """Right-align columns of numbers (percentages, counts, n/a included)."""
    def is_num(v: str) -> bool:
        v = str(v).split(" ")[0].rstrip("%").replace(",", "")
        if v in (NA, DASH):
            return True
        try:
            float(v)
        except ValueError:
            return False
        return True

    return all(is_num(v) for v in col)


CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1200px;
       margin: 2em auto; padding: 0 1.5em; color: #1f2328; line-height: 1.5; }
h1 { font-size: 1.7em; border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.35em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; display: block;
        overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: .35em .7em; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fbfcfd; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0; }
code { background: #f6f8fa; padding: .1em .3em; border-radius: 4px; }
p.meta { color: #57606a; }
"""


def _inline(text: str) -> str:
    """Escape, then render `code` spans."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def html_page(results: Results, images: dict[str, Path]) -> str:
    """compare.html: self-contained (inline CSS, PNGs as base64 data URIs)."""
    body: list[str] = []
    in_list = False
    for block in _document(results):
        kind = block[0]
        if kind != "li" and in_list:
            body.append("</ul>")
            in_list = False
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{_inline(block[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "li":
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{_inline(block[1])}</li>")
        elif kind == "img":
            data = base64.b64encode(Path(images[block[1]]).read_bytes()).decode("ascii")
            body.append(f'<img alt="{html.escape(block[2])}" '
                        f'src="data:image/png;base64,{data}">')
        elif kind == "table":
            body.append(_html_table(block[1]))
    if in_list:
        body.append("</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>autocomplete: cell comparison</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def _html_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p>(none)</p>"
    numeric = [i > 0 and _numeric(df.iloc[:, i]) for i in range(df.shape[1])]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for row in df.itertuples(index=False):
        cells = "".join(f'<td{" class=num" if numeric[i] else ""}>{html.escape(str(v))}</td>'
                        for i, v in enumerate(row))
        rows.append(f"<tr>{cells}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + \
        "\n</tbody>\n</table>"


# --------------------------------------------------------------------------- write
def write_report(results: Results, out_dir: str | Path) -> dict[str, Path]:
    """Write the PNGs, compare.md and compare.html into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = {
        "recall": plot_recall(results, out / PNG_NAMES["recall"]),
        "heldout": plot_seen_vs_heldout(results, out / PNG_NAMES["heldout"]),
        "grad_flow": plot_grad_flow(results, out / PNG_NAMES["grad_flow"]),
        "curves": plot_training_curves(results, out / PNG_NAMES["curves"]),
    }
    md_path, html_path = out / MD_NAME, out / HTML_NAME
    md_path.write_text(markdown(results, {k: p.name for k, p in images.items()}),
                       encoding="utf-8")
    html_path.write_text(html_page(results, images), encoding="utf-8")
    return {"markdown": md_path, "html": html_path, **{k: p for k, p in images.items()}}
