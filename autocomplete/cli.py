"""The `autocomplete` command line: one click group, one module per command.

Commands are imported only when invoked, so `autocomplete complete` on the
fast path never pays for TensorFlow, and `--help` is instant.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import click

# Keep TensorFlow's start-up noise (oneDNN notes, CUDA probing) off the terminal. oneDNN
# itself stays on: it makes CPU training 1.3x faster in float32, and bfloat16 needs it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
# TensorFlow's pooling (BFC) allocator on the CPU instead of malloc: a training step frees and
# maps again hundreds of MB of activations (the logits alone are 196 MB at the default step),
# about 55,000 page faults a step with malloc; the pool reuses its memory: the default step
# 1.05x faster, a short default training run 1.2x, the same model; the same peak memory on the
# built-in corpus, 0.2 GB more on the Enron mail (BENCHMARKS.md, "Training speed").
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

COMMANDS = {
    "train": ("autocomplete.commands.train", "train", "Train a SimpleRNN, LSTM or GRU model."),
    "complete": ("autocomplete.commands.complete", "complete", "Complete a sentence."),
    "gradients": (
        "autocomplete.commands.gradients", "gradients",
        "Gradient statistics and plots of trained models.",
    ),
    "report": (
        "autocomplete.commands.report", "report",
        "Compare the cells: recall by distance, perplexity, gradients.",
    ),
    "prepare": (
        "autocomplete.commands.prepare", "prepare",
        "Load and clean a mail corpus and summarise it.",
    ),
    "tune": (
        "autocomplete.commands.tune", "tune",
        "Fit a model's blend with an n-gram and the cache (for complete and serve).",
    ),
    "tune-cache": (
        "autocomplete.commands.tune_cache", "tune_cache",
        "Fit a model's cache of the email so far (for complete --cache).",
    ),
    "serve": ("autocomplete.commands.serve", "serve", "Serve completions over HTTP."),
}
ALIASES = {"compare": "report"}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _, _) in COMMANDS.items() if _exists(mod)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        name = ALIASES.get(name, name)
        if name not in COMMANDS or not _exists(COMMANDS[name][0]):
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, h) for n, (m, _, h) in COMMANDS.items() if _exists(m)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _exists(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autocomplete")
def cli() -> None:
    """Email sentence completion with SimpleRNN, LSTM and GRU.

    \b
    autocomplete train --cell lstm
    autocomplete complete "Today due to my current job situation and family condition, I"
    """


def main() -> None:
    cli(prog_name="autocomplete")
