"""Gradient statistics of trained models: tables, the gradient-flow ratio and plots.

Reads the `grad_stats.csv` and `grad_flow.csv` that the `GradientStats`
callback writes into a model directory during training (see
`autocomplete.callbacks.gradient_stats` for the columns). No TensorFlow is
imported. The `autocomplete gradients` command prints these tables and writes
the plots; the comparison report (`compare`, `render`) uses the ratio and the
kept flow curve.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from autocomplete import artifacts

GLOBAL = "(global)"
PathLike = str | os.PathLike


def _cell(model_dir: Path) -> str | None:
    try:
        return artifacts.read_config(model_dir).get("cell")
    except artifacts.ModelDirError:
        return None


def load_grad_tables(model_dir: PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stats, flow) tables of a model directory; flow is empty when no probe was given.

    Rows recorded twice (an epoch re-run after a resumed crash) keep the last
    value. Raises `ModelDirError` with the command to run when there are none.
    """
    model_dir = Path(model_dir)
    cell = _cell(model_dir)
    if not model_dir.is_dir():
        raise artifacts.ModelDirError(
            f"no model directory {model_dir}: train one with `{artifacts.train_hint(cell)}`"
        )
    stats_path = model_dir / "grad_stats.csv"
    if not stats_path.is_file() or stats_path.stat().st_size == 0:
        raise artifacts.ModelDirError(
            f"{model_dir} has no gradient statistics: train it with "
            f"`{artifacts.train_hint(cell or model_dir.name)}` "
            "(gradient statistics are on by default)"
        )
    try:
        stats = pd.read_csv(stats_path)
        flow_path = model_dir / "grad_flow.csv"
        flow = pd.read_csv(flow_path) if flow_path.is_file() else pd.DataFrame()
    except (OSError, ValueError) as e:
        raise artifacts.ModelDirError(f"cannot read the gradient tables of {model_dir}: {e}") from e
    kept = _kept_epoch_index(model_dir)
    if kept is not None and not flow.empty and kept in set(flow["epoch"]):
        flow.attrs["kept_epoch"] = kept
    missing = {"step", "epoch", "layer", "statistic", "value"} - set(stats.columns)
    if missing:
        raise artifacts.ModelDirError(f"{stats_path} lacks the columns {sorted(missing)}")
    stats = stats.drop_duplicates(["step", "layer", "statistic"], keep="last")
    if flow.empty:
        flow = pd.DataFrame(columns=["epoch", "step", "lag", "rows", "value"])
    else:
        flow = flow.drop_duplicates(["epoch", "lag"], keep="last")
    return stats.reset_index(drop=True), flow.reset_index(drop=True)


def model_labels(model_dirs: Sequence[PathLike]) -> dict[Path, str]:
    """Legend label per directory: the cell name, plus the directory when cells repeat."""
    dirs = [Path(d) for d in model_dirs]
    cells = {d: _cell(d) or d.name for d in dirs}
    counts = pd.Series(list(cells.values())).value_counts()
    return {d: c if counts[c] == 1 else f"{c} ({d})" for d, c in cells.items()}


def _layers(stats: pd.DataFrame) -> list[str]:
    """Layer names in recorded order (not the per-variable rows, not the global one)."""
    names = stats["layer"].drop_duplicates()
    return [n for n in names if "/" not in n and n != GLOBAL]


def gradient_summary(model_dirs: Sequence[PathLike]) -> pd.DataFrame:
    """One row per model and layer (plus "(global)"): gradient norms before clipping.

    Columns: model, cell, layer, median_grad_norm, max_grad_norm, clipped
    (fraction of records where clipping engaged for that layer; NaN without
    clipping), nonfinite_records (records with NaN/Inf gradients) and records.
    """
    labels = model_labels(model_dirs)
    rows = []
    for d, label in labels.items():
        stats, _ = load_grad_tables(d)
        cell = _cell(d) or d.name
        for layer in [*_layers(stats), GLOBAL]:
            sel = stats[stats["layer"] == layer]
            norm = sel[sel["statistic"] == ("global_norm" if layer == GLOBAL else "grad_norm")]
            clipped = sel.loc[sel["statistic"] == "clipped", "value"]
            bad = sel.loc[sel["statistic"] == "grad_nonfinite", "value"]
            values = norm["value"].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            rows.append({
                "model": label,
                "cell": cell,
                "layer": layer,
                "median_grad_norm": float(np.median(finite)) if finite.size else float("nan"),
                "max_grad_norm": float(np.max(values)) if values.size else float("nan"),
                "clipped": float(clipped.mean()) if len(clipped) else float("nan"),
                "nonfinite_records": int((bad > 0).sum()),
                "records": int(len(values)),
            })
    return pd.DataFrame(rows)


def _kept_epoch_index(model_dir: Path) -> int | None:
    """0-based epoch whose weights the model kept (metrics.json "kept_epoch" is 1-based)."""
    try:
        kept = json.loads((model_dir / "metrics.json").read_text()).get("kept_epoch")
    except (OSError, ValueError, AttributeError):
        return None
    return int(kept) - 1 if kept else None


def lag_ratio(flow_df: pd.DataFrame, lag: int = 50) -> float:
    """Flow at `lag` over flow at lag 1, at the kept epoch (see `kept_curve`).

    Uses the largest recorded lag when the probe is shorter than `lag`
    (`ratio_lag` says which). NaN when there is no flow.
    """
    used = ratio_lag(flow_df, lag)
    if used is None:
        return float("nan")
    last = kept_curve(flow_df).set_index("lag")["value"]
    return float(last[used] / last[1]) if 1 in last.index else float("nan")


def ratio_lag(flow_df: pd.DataFrame, lag: int = 50) -> int | None:
    """The lag `lag_ratio` uses: `lag`, or the largest recorded one if smaller."""
    if flow_df is None or flow_df.empty:
        return None
    return int(min(lag, kept_curve(flow_df)["lag"].max()))


def kept_curve(flow_df: pd.DataFrame) -> pd.DataFrame:
    """The flow curve at the weights the model kept.

    Early stopping restores the best epoch's weights, so a run that diverged
    later (a SimpleRNN often does) is described by that epoch's curve, not by
    the last one. Falls back to the last epoch when the kept one is unknown.
    """
    epoch = flow_df.attrs.get("kept_epoch", flow_df["epoch"].max())
    return flow_df[flow_df["epoch"] == epoch].sort_values("lag")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_grad_norms(model_dirs: Sequence[PathLike], path: PathLike,
                    layers: Sequence[str] | None = None) -> Path:
    """Gradient norm (before clipping) per layer over training steps, log y; one line per
    layer per model. `layers` limits the layers drawn (default: all)."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 5))
    styles = ["-", "--", ":", "-."]
    for i, (d, label) in enumerate(model_labels(model_dirs).items()):
        stats, _ = load_grad_tables(d)
        color = f"C{i % 10}"
        for j, layer in enumerate(_layers(stats)):
            if layers and layer not in layers:
                continue
            sel = stats[(stats["layer"] == layer) & (stats["statistic"] == "grad_norm")]
            sel = sel[np.isfinite(sel["value"]) & (sel["value"] > 0)]
            ax.plot(sel["step"], sel["value"], styles[j % len(styles)], color=color,
                    label=f"{label} {layer}")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("gradient norm before clipping")
    ax.set_title("Gradient norm per layer during training")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_grad_flow(model_dirs: Sequence[PathLike], path: PathLike) -> Path:
    """Gradient flow against lag at each model's kept epoch, log y, one line per model."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 5))
    for d, label in model_labels(model_dirs).items():
        _, flow = load_grad_tables(d)
        if flow.empty:
            continue
        last = kept_curve(flow)
        last = last[np.isfinite(last["value"]) & (last["value"] > 0)]
        ax.plot(last["lag"], last["value"], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("lag (positions before the last one)")
    ax.set_ylabel("|d loss(last) / d input(last - lag)|")
    ax.set_title("Gradient flow through time (kept weights, held-out probe)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def models_with_grad_stats(models_dir: PathLike = artifacts.MODELS_DIR) -> list[Path]:
    """Trained models under `models_dir` (`artifacts.trained_cells`) with gradient statistics."""
    return [d for d in artifacts.trained_cells(models_dir).values()
            if (d / "grad_stats.csv").is_file()]
