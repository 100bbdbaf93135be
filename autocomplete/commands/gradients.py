"""`autocomplete gradients`: gradient statistics and plots of trained models.

A thin command over `autocomplete.report.gradients`, which reads the
`grad_stats.csv` and `grad_flow.csv` that training writes. The library (and
pandas with it) is imported only when the command runs, so the CLI stays quick
to start. No TensorFlow is imported.
"""

from __future__ import annotations

from pathlib import Path

import click

from autocomplete.commands.params import GivenPath

DEFAULT_OUT = Path("reports/gradients")


@click.command("gradients")
@click.argument("model_dirs", nargs=-1, type=GivenPath(path_type=Path))
@click.option("--out", type=GivenPath(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Directory for the plots and the summary CSV.")
@click.option("--lag", type=click.IntRange(min=1), default=50, show_default=True,
              help="Lag of the gradient-flow ratio (flow at LAG / flow at lag 1).")
def gradients(model_dirs: tuple[Path, ...], out: Path, lag: int) -> None:
    """Gradient norms, clipping and gradient flow of trained models.

    \b
    autocomplete gradients models/simple_rnn models/lstm models/gru
    (no directory: every model under models/ that has gradient statistics)
    """
    import pandas as pd

    from autocomplete import artifacts
    from autocomplete.report import gradients as g

    dirs = list(model_dirs) or g.models_with_grad_stats()
    if not dirs:
        raise click.ClickException(
            f"no model with gradient statistics under {artifacts.MODELS_DIR}/: "
            f"run `{artifacts.train_hint(None)}` first"
        )
    try:
        summary = g.gradient_summary(dirs)
        flows = {label: g.load_grad_tables(d)[1] for d, label in g.model_labels(dirs).items()}
    except artifacts.ModelDirError as e:
        raise click.ClickException(str(e)) from e

    table = summary.drop(columns="cell").rename(columns={
        "median_grad_norm": "median norm", "max_grad_norm": "max norm",
        "nonfinite_records": "NaN/Inf", "clipped": "clipped",
    })
    click.echo("Gradient norm before clipping, per layer (over the recorded steps):")
    click.echo(table.to_string(index=False, na_rep="off", formatters={
        "median norm": "{:.3g}".format, "max norm": "{:.3g}".format,
        "clipped": lambda v: "off" if pd.isna(v) else f"{v:.0%}",
    }))
    click.echo("")
    click.echo(f"Gradient flow at the kept weights, norm at lag {lag} / norm at lag 1 "
               "(small = vanishing):")
    width = max(len(label) for label in flows)
    for label, flow in flows.items():
        used = g.ratio_lag(flow, lag)
        if used is None:
            click.echo(f"  {label:<{width}}  no gradient-flow records (trained without a probe)")
            continue
        note = "" if used == lag else f"  (probe has only {used} lags: lag {used} / lag 1)"
        click.echo(f"  {label:<{width}}  {g.lag_ratio(flow, lag):.3g}{note}")

    try:
        out.mkdir(parents=True, exist_ok=True)
        summary.to_csv(out / "gradient_summary.csv", index=False)
        written = [g.plot_grad_norms(dirs, out / "grad_norms.png")]
        if any(not f.empty for f in flows.values()):
            written.append(g.plot_grad_flow(dirs, out / "grad_flow.png"))
    except OSError as e:  # --out a file, or not writable
        raise click.ClickException(f"cannot write to {out}: {e.strerror or e}") from e
    click.echo("")
    click.echo("wrote " + ", ".join(str(p) for p in [out / "gradient_summary.csv", *written]))
