"""Back up each finished round, so that an interrupted run resumes with its planned work."""

from __future__ import annotations

import csv
from pathlib import Path

import keras


class RoundBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that saves only once a round's log is written, and resumes by updates.

    Keras's callback saves the weights, then the round count, as soon as its own
    `on_epoch_end` runs; a Ctrl-C between the two, or before the callbacks after it
    (the CSV log) have run, left a backup whose weights were a round ahead of its
    count (the round was trained twice) or a history without that round. Here the
    save comes from `saver()`, the last callback of the list, and a restored run
    starts at the round its optimizer's update count says it finished. Rows of the
    history log past that round are dropped, as those rounds run again.

    Args:
        backup_dir: folder of the backup.
        updates_per_round: the `steps_per_epoch` of the run.
        history: the run's CSV log (`keras.callbacks.CSVLogger`), if any.
    """

    def __init__(self, backup_dir: str, updates_per_round: int, history: str | None = None):
        super().__init__(backup_dir, delete_checkpoint=True)
        self.updates_per_round = updates_per_round
        self.history = Path(history) if history else None

    def _load_model(self):
        super()._load_model()
        if not Path(self._weights_path).exists():
            return
        updates = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        done = updates // self.updates_per_round
        # a round cut short by --time-budget counts as done in the saved round count
        self.model._initial_epoch = max(getattr(self.model, "_initial_epoch", 0) or 0, done)
        if self.history is not None and self.history.exists():
            _keep_rows(self.history, self.model._initial_epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0

    def saver(self) -> keras.callbacks.Callback:
        """The callback that saves the backup: put it last, after the CSV log."""
        return keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: self._save_model())


def _keep_rows(path: Path, rounds: int) -> None:
    """Keep the header and the rows of the first `rounds` rounds of a CSV history."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) <= rounds + 1:
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(rows[: rounds + 1])
    tmp.replace(path)
