"""tf.distribute for training: which strategy, who publishes, how batches are split.

`--strategy auto` (the default) picks `MultiWorkerMirroredStrategy` when
TF_CONFIG names more than one worker, `MirroredStrategy` on a machine with
more than one GPU, and otherwise TensorFlow's default strategy (one device,
nothing distributed: the training of one process, unchanged). `one`,
`mirrored` and `multi-worker` force a choice.

`--batch-size` is the global batch: each of N replicas computes on
batch / N windows of every update, and the replicas' gradients are averaged.
Since the update sees the same windows as one process would, the learning
rate is not rescaled: the same command trains the same model on one process
or on N (up to the order of float sums). Two differences remain and are
small: each replica averages the loss over its own real tokens (replicas
whose windows hold different amounts of padding weigh slightly differently
from one process), and Keras clips each replica's share of the gradient
before the sum, so the clip norms are divided by N (`replica_clipnorm`) to
bound the summed gradient as one process would; with clipping engaged, the
mean of clipped shares differs from the clipped mean.

Batches are split by data (`tf.data` AutoShardPolicy.DATA, `shard_by_data`):
every worker reads the same stream and keeps its part of each global batch,
which keeps the global batches those of one process. Every worker runs the
whole training, held-out scoring and saving (the collective operations need
them all); only the chief publishes the model directory, the others write to
a directory of their own (`stage_dir`) and remove it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

STRATEGIES = ("auto", "one", "mirrored", "multi-worker")


def cluster_workers(tf_config: str | None = None) -> int:
    """The number of tasks (chief and workers) that TF_CONFIG names; 1 without one."""
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not raw.strip():
        return 1
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (ValueError, AttributeError) as e:
        raise ValueError(f"TF_CONFIG is not a JSON object: {e}") from e
    return max(1, sum(len(cluster.get(kind, [])) for kind in ("chief", "worker")))


def resolve(name: str, gpus: int | None = None, workers: int | None = None) -> str:
    """The strategy `name` stands for: "one", "mirrored" or "multi-worker".

    "auto" is "multi-worker" when TF_CONFIG names more than one worker, else
    "mirrored" with more than one GPU, else "one". `gpus` and `workers`
    default to what this machine and TF_CONFIG say.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    if name != "auto":
        return name
    if (cluster_workers() if workers is None else workers) > 1:
        return "multi-worker"
    if gpus is None:
        import tensorflow as tf

        gpus = len(tf.config.list_physical_devices("GPU"))
    return "mirrored" if gpus > 1 else "one"


def make_strategy(name: str = "auto"):
    """The `tf.distribute.Strategy` for `name` (see `resolve`).

    Call it before any other TensorFlow operation of the process:
    MultiWorkerMirroredStrategy configures the runtime's collective operations,
    which is possible only while the runtime has not started.
    """
    import tensorflow as tf

    kind = resolve(name)
    if kind == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_default(strategy) -> bool:
    """True for TensorFlow's default strategy (nothing distributed)."""
    import tensorflow as tf

    return strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy()


def is_chief(strategy) -> bool:
    """Whether this process publishes: the chief, or the only process."""
    return bool(strategy.extended.should_checkpoint)


def workers(strategy) -> int:
    """The number of worker processes training together (1 unless multi-worker)."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return cluster_workers()
    return 1


def stage_dir(out: Path, strategy) -> Path:
    """Where this process writes the model directory before it is published or removed.

    The chief (or the only process) writes to `artifacts.staging_dir(out)`;
    another worker to `.<name>.<task>-<index>.partial` beside it, a directory
    of its own also when the workers share a file system, and the same one
    again when a run is resumed (it holds the worker's backups).
    """
    from autocomplete import artifacts

    if is_chief(strategy):
        return artifacts.staging_dir(out)
    resolver = strategy.cluster_resolver
    return Path(out).parent / f".{Path(out).name}.{resolver.task_type}-{resolver.task_id}.partial"


def replica_clipnorm(value: float | None, strategy) -> float | None:
    """A clip norm to give the optimizer so that it bounds the replicas' summed gradient.

    Keras scales each replica's loss by 1/N, clips that replica's gradient,
    then sums the N of them; clipping each share at `value / N` bounds the
    sum by `value`, as one process's clipping does.
    """
    return value / strategy.num_replicas_in_sync if value else value


def shard_by_data(dataset):
    """`dataset` with AutoShardPolicy.DATA: each worker keeps its share of every batch."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = \
        tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def build_for_fit(model, strategy, batch) -> None:
    """Ready a model made in `strategy`'s scope for Keras 3's `fit`, around two of its failures.

    1. `fit` builds the loss and optimizer state from its first batch,
       averaged over the replicas (`_maybe_symbolic_build`); under
       MultiWorkerMirroredStrategy that averaging fails ("Attempt to convert a
       value (PerReplica ...) ... to a Tensor"). This builds the same state in
       the scope from `batch`, (inputs, targets, weights) of this process,
       and turns that step off for this model.
    2. With more than one worker, `fit` averages each step's logs over the
       replicas along axis 0, which a scalar lacks ("Invalid reduction
       dimension 0 for input with 0 dimensions"). The training step returns
       its scalars as vectors of one value instead; the average of those is a
       scalar again.

    With the default strategy it does nothing.
    """
    if is_default(strategy):
        return
    with strategy.scope():
        model._symbolic_build(data_batch=tuple(batch))

    def built(iterator=None, data_batch=None):  # everything is built already
        return None

    model._maybe_symbolic_build = built
    if workers(strategy) > 1:
        import tensorflow as tf

        step = model.train_step

        def train_step(data):
            return tf.nest.map_structure(
                lambda v: tf.reshape(v, [1]) if v.shape.rank == 0 else v, step(data))

        model.train_step = train_step
