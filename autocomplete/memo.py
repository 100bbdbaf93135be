"""Model states kept for texts read before, so that typing does not read the email again.

Someone typing asks for a completion after every character. The text before
the word being typed changes a word at a time, and each search explores
nearly the same continuations as the one before it (the beam's hypotheses
after "let me kn" are those after "let me kno"). A step model's output after
a sequence of token ids depends on those ids only, so what it gave once for
them can be given again: `StateMemo` keeps, per sequence, the next-token
log-probs and the state after it, and forgets the least recently used past a
budget in bytes. `decoding.Completer(remember_mb=...)` reads prompts and
steps hypotheses through it; the answers are the ones it would compute.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

Entry = tuple[np.ndarray, list[np.ndarray]]  # (1, V) log-probs, state with batch 1


class StateMemo:
    """Least-recently-used (log-probs, state) per sequence of token ids, within `max_bytes`.

    Safe to share between threads (the server completes in several).

    Example:

    ```python
    memo = StateMemo(32 * 2**20)
    memo.put((2, 15, 40), logp[:1], [s[:1] for s in state])
    n, entry = memo.longest((2, 15, 40, 7), back=4)  # n == 3: ids[:3] was kept
    ```
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[int, ...], tuple[Entry, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[int, ...]) -> Entry | None:
        """The entry kept for `key`, or None."""
        with self._lock:
            kept = self._entries.get(key)
            if kept is None:
                return None
            self._entries.move_to_end(key)
            return kept[0]

    def longest(self, key: tuple[int, ...], back: int) -> tuple[int, Entry | None]:
        """(n, entry) for the longest `key[:n]` kept, n at least len(key) - back; (0, None)
        when none is."""
        with self._lock:
            for n in range(len(key), max(len(key) - back, 0) - 1, -1):
                kept = self._entries.get(key[:n])
                if kept is not None:
                    self._entries.move_to_end(key[:n])
                    return n, kept[0]
        return 0, None

    def put(self, key: tuple[int, ...], logp: np.ndarray, state: list[np.ndarray]) -> None:
        """Keep `logp` (1, V) and `state` (batch 1) for `key`; drop the least recently used
        entries past the budget (an entry larger than the whole budget is not kept)."""
        size = logp.nbytes + sum(s.nbytes for s in state)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = ((logp, state), size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped
