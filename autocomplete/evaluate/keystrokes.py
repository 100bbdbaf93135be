"""Keystrokes saved: a writer types held-out mail character by character, with suggestions.

At each character (after the first) the engine is asked for one suggestion
for the text so far, the way the page asks the server (`partial_word`, the
completer's `min_confidence`). The simulated writer presses Tab only when
the whole suggestion is exactly what they were about to type next; then the
suggestion's characters are typed for them, and the engine is asked again
at the new position. Otherwise they type one character themselves.

    saved = accepted characters - Tabs pressed

A writer who would take half of a suggestion gets nothing from it here, so
the figure is a floor on what an editor with word-by-word acceptance saves.

The emails are typed in the tokenizer's canonical form (`typing_text`:
lower case, spaced the way `tokens.detokenize` writes), the form the
suggestions come in, so the figure measures words predicted, not casing or
spacing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from autocomplete.tokens import detokenize, split_fragment, tokenize


@dataclass
class KeystrokeStats:
    """Counts over the typed text; `summary` gives the rates."""

    chars: int = 0  # characters of the text
    accepted_chars: int = 0  # characters typed by accepting suggestions
    tabs: int = 0  # suggestions accepted (one Tab each)
    shown: int = 0  # keystrokes at which a suggestion was shown
    latencies_ms: list[float] = field(default_factory=list)  # one per query

    @property
    def saved(self) -> int:
        """Keystrokes saved: the accepted characters less one Tab each."""
        return self.accepted_chars - self.tabs

    def add(self, other: KeystrokeStats) -> KeystrokeStats:
        """Add `other`'s counts to these; returns self."""
        self.chars += other.chars
        self.accepted_chars += other.accepted_chars
        self.tabs += other.tabs
        self.shown += other.shown
        self.latencies_ms += other.latencies_ms
        return self

    def summary(self) -> dict:
        """% of characters saved, suggestions shown per 100 characters, acceptance rate
        (Tabs per suggestion shown) and the per-keystroke latency's p50 and p90 in ms."""
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.full(1, np.nan)
        return {
            "saved %": 100 * self.saved / max(self.chars, 1),
            "shown / 100 chars": 100 * self.shown / max(self.chars, 1),
            "accepted %": 100 * self.tabs / max(self.shown, 1),
            "p50 ms": float(np.percentile(lat, 50)),
            "p90 ms": float(np.percentile(lat, 90)),
        }


def typing_text(body: str) -> str:
    """The email as the simulated writer types it: its tokens, lower case, spaced as
    `detokenize` writes them ("Thanks , Mark" -> "thanks, mark")."""
    return detokenize(tokenize(body))


def insertion(prompt: str, tokens: list[str]) -> str:
    """The characters that completion `tokens` (`Completion.tokens`) add after `prompt`.

    The first token finishes the word being typed when the prompt ends inside
    one; a completion that cannot follow the typed text gives "".

    Example:
        >>> insertion("let me kn", ["know", "if"])
        'ow if'
        >>> insertion("thanks ", ["for", "the"])
        'for the'
    """
    if not tokens:
        return ""
    before, fragment = split_fragment(prompt)
    typed = detokenize(before + ([fragment] if fragment else []))
    full = detokenize(before + list(tokens))
    if not full.startswith(typed):
        return ""
    added = full[len(typed):]
    if prompt[-1:].isspace() and added.startswith(" "):
        added = added[1:]
    return added


def simulate(text: str, suggest: Callable[[str], list[str]]) -> KeystrokeStats:
    """Type `text` with the help of `suggest` (the text so far -> the suggestion's tokens,
    [] for none); each call is timed."""
    stats = KeystrokeStats(chars=len(text))
    i = 0
    while i < len(text):
        prompt = text[:i]
        if prompt.strip():
            started = time.perf_counter()
            tokens = suggest(prompt)
            stats.latencies_ms.append((time.perf_counter() - started) * 1e3)
            shown = insertion(prompt, tokens)
            if shown:
                stats.shown += 1
                if text.startswith(shown, i):  # exactly what comes next: Tab
                    stats.tabs += 1
                    stats.accepted_chars += len(shown)
                    i += len(shown)
                    continue
        i += 1  # the writer types one character
    return stats


def completer_suggest(completer, **options) -> Callable[[str], list[str]]:
    """`suggest` for `simulate` from a `decoding.Completer`; `options` go to its
    `complete` (e.g. min_confidence, beam, max_words), partial words on."""
    def suggest(prompt: str) -> list[str]:
        return completer.complete(prompt, partial_word=True, **options).tokens
    return suggest


def keystrokes_saved(texts: Iterable[str], suggest: Callable[[str], list[str]]) -> KeystrokeStats:
    """`simulate` over each email body of `texts` (typed as `typing_text`), summed."""
    total = KeystrokeStats()
    for body in texts:
        total.add(simulate(typing_text(body), suggest))
    return total
