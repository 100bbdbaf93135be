"""`autocomplete train`: train one cell and write models/<cell>/."""

from __future__ import annotations

import sys

import click

from autocomplete.model_names import CELL_NAMES


@click.command("train")
@click.option("--cell", type=click.Choice(CELL_NAMES), default="lstm", show_default=True,
              help="Recurrent cell to train.")
@click.option("--corpus", type=click.Path(exists=True), default=None,
              help="Your own mail (mbox, maildir, folder, CSV, text or archive). "
                   "Default: the built-in corpus in data/.")
@click.option("--text-column", default=None, help="CSV corpora: the column holding the text.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Model directory to write. Default: models/<cell>.")
@click.option("--epochs", type=click.IntRange(1), default=20, show_default=True,
              help="Maximum epochs (early stopping or the time budget may end sooner).")
@click.option("--time-budget", type=click.FloatRange(0), default=8.0, show_default=True,
              help="Minutes of training, after which the run finishes its epoch early "
                   "(0: no limit). The default keeps `train` under 10 minutes on 2 CPU cores.")
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True,
              help="Windows per step (small: more updates per minute on a CPU).")
@click.option("--units", type=click.IntRange(1), default=256, show_default=True,
              help="Units per recurrent layer.")
@click.option("--layers", type=click.IntRange(1), default=1, show_default=True,
              help="Stacked recurrent layers.")
@click.option("--embedding-dim", type=click.IntRange(1), default=128, show_default=True)
@click.option("--window", type=click.IntRange(2), default=256, show_default=True,
              help="Tokens per training window (longest remembered distance).")
@click.option("--stride", type=click.IntRange(1), default=None,
              help="Step between windows cut from long emails. Default: the window.")
@click.option("--max-tokens", type=click.IntRange(10), default=8000, show_default=True,
              help="Vocabulary size cap (from the training split only).")
@click.option("--learning-rate", "--lr", type=click.FloatRange(0, min_open=True), default=None,
              help="Adam learning rate. Default: 2e-2 for lstm, 1e-2 for gru and simple_rnn.")
@click.option("--lr-decay", type=click.FloatRange(0, 1), default=None,
              help="Share of the run, at its end, over which the learning rate falls "
                   "linearly to 0 (of the time budget, else of the epochs; 0: constant). "
                   "Default: 0.5 for lstm, 0 for gru and simple_rnn.")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam",
              show_default=True,
              help="sgd takes raw gradient steps: the setting where clipping visibly matters.")
@click.option("--clipnorm", type=click.FloatRange(0, min_open=True), default=1.0,
              show_default=True, help="Clip each variable's gradient to this L2 norm.")
@click.option("--global-clipnorm", type=click.FloatRange(0, min_open=True), default=None,
              help="Clip the global gradient norm instead of each variable's.")
@click.option("--no-clip", is_flag=True, help="Turn gradient clipping off (to watch it explode).")
@click.option("--l2", type=click.FloatRange(0), default=1e-6, show_default=True,
              help="L2 weight on embedding, kernels and recurrent kernels (0 turns it off).")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True,
              help="Dropout on the inputs of the recurrent layers and of the output layer.")
@click.option("--activation", type=click.Choice(["tanh", "relu"]), default="tanh",
              show_default=True,
              help="Recurrent activation; relu on simple_rnn is the exploding-gradient recipe "
                   "(on lstm/gru it also gives up cuDNN).")
@click.option("--gate-init", type=click.Choice(["chrono", "chrono-full", "default"]),
              default="chrono-full", show_default=True,
              help="Initial LSTM/GRU gate biases: chrono-full (long memory from the start, "
                   "LSTM input gate closed, as in the paper), chrono (LSTM input gate left "
                   "half open) or Keras's defaults. The two chronos differ only for lstm.")
@click.option("--embedding-std", type=click.FloatRange(0, min_open=True), default=None,
              help="Start the word vectors from a normal distribution with this standard "
                   "deviation (default: Keras's uniform -0.05..0.05).")
@click.option("--precision", type=click.Choice(["auto", "float32", "mixed_bfloat16"]),
              default="auto", show_default=True,
              help="Training arithmetic. auto: mixed bfloat16 on CPUs with bf16 instructions "
                   "(faster), float32 elsewhere. The saved model is float32 either way.")
@click.option("--patience", type=click.IntRange(0), default=2, show_default=True,
              help="Early-stopping patience in epochs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-grad-stats", is_flag=True, help="Do not record gradient statistics.")
@click.option("--grad-every", type=click.IntRange(1), default=None,
              help="Record gradient statistics every N steps.")
@click.option("--max-grad-norm", type=click.FloatRange(0, min_open=True), default=None,
              help="Stop training when the global gradient norm passes this.")
@click.option("--tensorboard-dir", type=click.Path(file_okay=False), default=None,
              help="Also log gradient statistics to TensorBoard here.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from its last finished epoch.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(**opts) -> None:
    """Train a model on the built-in corpus (or --corpus) and write its directory.

    The directory (default models/<cell>/) gets model.keras, vocab.txt,
    config.json, history.csv, metrics.json and the gradient statistics. It
    appears only when training has finished; an interrupted run continues
    with --resume.

    \b
    Example:
      autocomplete train --cell lstm
      autocomplete train --cell simple_rnn --no-clip --activation relu --lr 0.01
    """
    from autocomplete.train import TrainConfig
    from autocomplete.train import train as run_training

    if opts.pop("no_clip"):
        if opts["global_clipnorm"]:
            raise click.UsageError("--no-clip and --global-clipnorm contradict each other")
        opts["clipnorm"] = None
    elif opts["global_clipnorm"]:
        opts["clipnorm"] = None
    resume, quiet = opts.pop("resume"), opts.pop("quiet")
    opts["grad_stats"] = not opts.pop("no_grad_stats")
    opts["time_budget"] = opts["time_budget"] or None
    cfg = TrainConfig(**opts)
    try:
        out = run_training(cfg, resume=resume, verbose=0 if quiet else "auto")
    except KeyboardInterrupt:
        click.echo(
            f"\ninterrupted: continue with `autocomplete train --cell {cfg.cell}"
            f"{' --out ' + cfg.out if cfg.out else ''} --resume` (same options)", err=True,
        )
        sys.exit(130)
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from e
    except Exception as e:
        import tensorflow as tf  # already loaded by training; only its error class is needed

        if not isinstance(e, tf.errors.ResourceExhaustedError):  # out of memory
            raise
        raise click.ClickException(
            f"out of memory with --batch-size {cfg.batch_size} and --window {cfg.window}; "
            "try a smaller batch or window"
        ) from e
    from autocomplete.train import read_metrics

    m = read_metrics(out)
    click.echo(
        f"saved {out}: test perplexity {m['perplexity']:.1f}, top-1 {m['top1_accuracy']:.1%}, "
        f"top-5 {m['top5_accuracy']:.1%} ({m['epochs_run']} epochs, {m['train_seconds']:.0f} s)"
    )
