"""Sentence completion over any step model: greedy, beam search and sampling.

Numpy only, so the TensorFlow-free fast path (`autocomplete.fastpath`) and the
Keras step model (`autocomplete.keras_step`) share one search. A step model
carries the recurrent state token to token: the prompt is fed once, then each
new token costs one step (a beam of k costs one batched step per position).

Decisions (the CLI and tests rely on them):

* Prompt: `[start]` + token ids (unknown words -> `[UNK]`, id 1). A prompt
  longer than the model's `window` keeps its most recent `window` tokens and
  drops `[start]` (the kept text is no longer the start of an email), and the
  completion says `truncated=True`. An empty or blank prompt is a ValueError.
* A prompt of only unknown words is still completed: `[start]` and `[UNK]`
  are inputs the model was trained on, and a generic continuation is what a
  Smart Compose user expects to be offered (or not) by the confidence gate,
  not an error. The completion reports `unknown_words` so a UI can say why
  the suggestion is generic; `min_confidence` is the switch that hides it.
* Stopping: after a sentence-end token (".", "!", "?"; included in the
  completion), or when the completion holds `max_words` words. Punctuation
  does not count as a word, nor does the contraction part after an apostrophe
  ("don't" is one word). A hard cap of `2 * max_words + 8` tokens ends runs of
  punctuation.
* Subjects: a model trained with them (`train --subject`) reads the context
  `[start]` + the subject's tokens + "xxbody" + the prompt's tokens
  (`tokens.subject_prefix`; no subject: "xxbody" alone), so its
  `Completer` is made with `subjects=True`. A subject given to a completer
  of a model trained without them is a ValueError, never ignored.
* Padding, `[UNK]` and `[start]` are never generated (masked to -inf), nor
  is the subject separator "xxbody", nor
  are the placeholders that stand for private values in the training text
  (`corpus.normalize`: "xxemail", "xxnumber", ...): where the model would
  write a number, it suggests the likeliest text that is not one. Token
  probabilities are the model's own (not renormalised after the mask; a
  partial word's first token is the one exception, below).
* Scores: `score` is the mean log-probability per generated token (log-prob
  sum / length**alpha with alpha = 1); `confidence = exp(score)` is the
  geometric-mean token probability in (0, 1], the number users threshold with
  `min_confidence`. Beam search ranks finished hypotheses by `score`, so it
  returns the completion with the highest confidence among those it found.
* Sampling draws from the masked distribution sharpened or flattened by
  `temperature` with a seeded `numpy.random.Generator`; reported
  probabilities and confidence stay at temperature 1.
* Partial words (`partial_word=True`, what `complete` and `serve` use): a
  prompt that ends inside a word ("Please let me kn"; not "me kn " nor
  "Thanks,") is read without that fragment, and the first generated token
  must be a vocabulary word that starts with it, case-insensitively (never
  a special token). The fragment itself counts when it is a whole word:
  "let me know" may finish as "knowledge ..." or go on after "know",
  whichever word is the likelier. The first step's probabilities are renormalised
  over those words (the probability of the word given the letters typed),
  so confidence and `min_confidence` judge the word by what was typed, not
  by how common it is. Beam search finishes the word with its likeliest
  completion and searches on from there: ranked by mean log-probability,
  an unlikely word followed by a predictable phrase ("Thanks for your
  he" -> "ating on the shared drive.") would otherwise beat the word the
  letters most likely begin ("lp with the training schedule.");
  greedy search takes that word anyway, and sampling may draw another.
  The completed word does not count towards
  `max_words`. The completion's `tokens` start with that word; its `text`
  is what to add after the prompt: the rest of the word glued to the
  fragment ("ow if you have any questions.", `continues_word=True`) or,
  when the fragment was the whole word, the continuation after it ("if you
  have any questions.", `continues_word=False`, spaced like any
  completion). No vocabulary word starting with the fragment: an empty
  completion whose `reason` says so.
* Trimming (`trim=True`, for typing): the writer takes a suggestion with one
  Tab only when all of it is what they meant, so a long suggestion that is
  probably right at first and a guess at the end saves less than its start
  alone. The search's completion is cut after the word or punctuation (never
  inside a contraction or a hyphenated word) where the expected characters saved,
  P(the words up to there) x (their characters - 1 for the Tab), is largest;
  P is the product of the model's token probabilities. Confidence is then the
  kept tokens' own. Unless a beam width is given, a trimmed completion is
  searched greedily (`TRIM_BEAM`): what is kept is the completion's likely
  start, which greedy search makes as likely as it can token by token, where
  beam search ranks whole sentences; on typed mail greedy saved as many
  keystrokes at a quarter of the latency. That greedy search stops as soon as
  no later cut can be kept (`_CutWatch`): the same suggestion in fewer steps.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from autocomplete.corpus.cleaning import normalize_chars
from autocomplete.corpus.normalize import placeholders
from autocomplete.decoding_defaults import BEAM, MAX_WORDS, METHOD, TEMPERATURE, TRIM_BEAM
from autocomplete.memo import StateMemo
from autocomplete.tokens import (
    OOV_ID,
    SENTENCE_END,
    SPECIAL_IDS,
    SPECIALS,
    START_ID,
    SUBJECT_SEPARATOR,
    detokenize,
    split_fragment,
    subject_prefix,
    tokenize,
)

LENGTH_ALPHA = 1.0  # sum logprob / len**alpha; 1 = mean log-prob per token
REUSE_TOKENS = 32  # with the memo, how far back a prompt looks for a kept text it extends
METHODS = ("beam", "greedy", "sample")


class StepModel(Protocol):
    """A language model advanced one token at a time with explicit state.

    State is a list of (batch, ...) arrays, so `reorder` selects beams for any
    model. Optional: `prefill(ids) -> ((1, V) log-probs, state)` feeds a whole
    prompt in one call; `Completer` uses it when present, else steps token by token.
    """

    vocab: list[str]
    window: int | None  # max context tokens the model was trained on (None: no limit)

    def initial_state(self, batch: int) -> list[np.ndarray]: ...

    def step(
        self, token_ids: np.ndarray, state: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """(batch,) token ids -> ((batch, V) log-probs of the next token, new state)."""
        ...


def never_suggested() -> frozenset[str]:
    """The tokens no completion ever holds: the specials, the subject separator and the
    placeholders of private values."""
    return frozenset(SPECIALS) | {SUBJECT_SEPARATOR} | placeholders()


def reorder(state: list[np.ndarray], indices: np.ndarray) -> list[np.ndarray]:
    """The states of the beams `indices` (rows may repeat), for every state array."""
    return [s[indices] for s in state]


def encode_prompt(
    text: str,
    vocab: list[str] | dict[str, int],
    window: int | None = None,
    *,
    partial_word: bool = False,
    subject: str | None = None,
) -> tuple[list[int], dict]:
    """Token ids the model reads for `text`: [start] + ids, cut to the last `window`.

    The text's characters are first normalized as the training mail's were
    (`corpus.cleaning.normalize_chars`).

    Returns (ids, info) with info keys prompt_tokens (every token of the
    text), kept_tokens, unknown_words (among the kept tokens), truncated and
    fragment. With `partial_word`, a word still being typed at the end of
    the text (`tokens.split_fragment`) is left out of the ids and returned,
    lower-case, as the fragment ("" when the text ends at a word boundary).
    With a `subject` (a subject-trained model; "" for none) the subject's
    tokens and the separator come before the text's (`tokens.subject_prefix`),
    and prompt_tokens counts them too; the fragment is still the text's.

    Example:
        >>> encode_prompt("Thanks, Mark", ["", "[UNK]", "[start]", "thanks", ","])[0]
        [2, 3, 4, 1]
    """
    index = vocab if isinstance(vocab, dict) else {t: i for i, t in enumerate(vocab)}
    # the characters as training's cleaning wrote the mail: a phone's curly apostrophe or a
    # decomposed umlaut is then the word the model knows
    text = normalize_chars(text)
    if partial_word:
        tokens, fragment = split_fragment(text)
    else:
        tokens, fragment = tokenize(text), ""
    if not tokens and not fragment:
        raise ValueError("the prompt is empty: give some text to complete")
    if subject is not None:
        tokens = subject_prefix(normalize_chars(subject)) + tokens
    ids = [START_ID] + [index.get(t, OOV_ID) for t in tokens]
    truncated = window is not None and len(ids) > window
    if truncated:
        ids = ids[-window:]
    kept = [i for i in ids if i != START_ID]
    info = {
        "prompt_tokens": len(tokens) + bool(fragment),
        "kept_tokens": len(kept),
        "unknown_words": sum(1 for i in kept if i == OOV_ID),
        "truncated": bool(truncated),
        "fragment": fragment,
    }
    return ids, info


@dataclass
class Completion:
    """One completion and what a UI needs to decide whether to show it."""

    text: str  # what follows the prompt, e.g. "need to take a loan." (see continues_word)
    tokens: list[str]
    token_probs: list[float]  # model probability of each token
    confidence: float  # exp(score): geometric-mean token probability, 0..1
    score: float  # mean log-probability per token (-inf when nothing was generated)
    method: str
    truncated: bool = False
    prompt_tokens: int = 0
    kept_tokens: int = 0
    unknown_words: int = 0
    suppressed: bool = False  # True: below min_confidence, text emptied
    fragment: str = ""  # the word being typed at the prompt's end (lower-case), or ""
    # True: `text` continues the prompt's last word, to be added with no space ("ow if ...")
    continues_word: bool = False
    reason: str | None = None  # why `text` is empty, when it is

    def to_dict(self) -> dict:
        return asdict(self)


class Completer:
    """Complete prompts with a step model.

    `subjects`: the model was trained with subjects (`artifacts.uses_subjects`
    of its config.json); every prompt is then read after its subject.

    `remember_mb`: memory for the model's states after texts already read
    (`memo.StateMemo`; 0: none). Someone typing asks again after every
    character: with states kept, a prompt is read on from the longest text
    kept that it extends (up to `REUSE_TOKENS` tokens back), and a search
    steps a hypothesis only when that sequence was not stepped before. The
    answers are the ones computed afresh. Worth it where one completer serves
    typing (`serve`, the keystroke benchmark); a one-off `complete` has
    nothing to reuse, and a latency benchmark of repeated prompts would time
    the memory.

    Example:
        from autocomplete.fastpath import load_step_model
        completer = Completer(load_step_model("models/lstm"))
        completer.complete("I need to take a").text  # e.g. "loan."
    """

    def __init__(self, model: StepModel, *, length_alpha: float = LENGTH_ALPHA,
                 subjects: bool = False, remember_mb: float = 0):
        self.model = model
        self.memo = StateMemo(int(remember_mb * 2**20)) if remember_mb > 0 else None
        self.vocab = list(model.vocab)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.window = getattr(model, "window", None)
        self.length_alpha = length_alpha
        self.subjects = subjects
        V = len(self.vocab)
        never = never_suggested()
        self.banned = np.array([i for i, t in enumerate(self.vocab)
                                if t in never or i in SPECIAL_IDS])
        # lists, not arrays: the search reads them one token at a time
        self.is_end = [t in SENTENCE_END for t in self.vocab]
        self.is_alnum = [any(ch.isalnum() for ch in t) for t in self.vocab]
        self.apostrophe = self.index.get("'")  # None: no apostrophe token
        self.widest = 1 + max(map(len, self.vocab))  # the most characters a token adds
        if self.vocab[:3] != list(SPECIALS) or V < 4:
            raise ValueError("the model's vocabulary must start with '', '[UNK]', '[start]'")
        self._by_spelling: tuple[list[str], list[int]] | None = None  # built when first needed

    # -- public -----------------------------------------------------------------
    def complete(
        self,
        text: str,
        *,
        method: str = METHOD,
        beam: int | None = None,
        max_words: int = MAX_WORDS,
        temperature: float = TEMPERATURE,
        seed: int | None = None,
        min_confidence: float | None = None,
        partial_word: bool = False,
        subject: str | None = None,
        trim: bool = False,
    ) -> Completion:
        """Continue `text` until the end of the sentence or `max_words` words.

        Args:
            method: "beam" (best of `beam` hypotheses), "greedy" or "sample".
            beam: None: `BEAM`, or `TRIM_BEAM` (greedy) with `trim`.
            temperature: sampling only; < 1 is more conservative, > 1 more varied.
            seed: sampling only; the same seed gives the same completion.
            min_confidence: return an empty completion (text "", with the
                confidence it had) when the confidence is below this.
            partial_word: a word still being typed at the end of `text` is
                finished first (see the module's notes); False reads every
                word of `text` as complete.
            subject: the email's subject, for a completer with `subjects`
                (None: no subject); a ValueError for one without.
            trim: cut the completion where the characters a writer is
                expected to save by taking it are most (see the module's notes).
        """
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        if max_words < 1:
            raise ValueError("max_words must be at least 1")
        if beam is None:
            beam = TRIM_BEAM if trim else BEAM
        if method == "beam" and beam < 1:
            raise ValueError("beam must be at least 1")
        if method == "sample" and not 0 < temperature < math.inf:
            raise ValueError("temperature must be a positive number")
        if subject is not None and not self.subjects:
            raise ValueError("the model was trained without subjects (train --subject): "
                             "leave the subject out")
        ids, info = encode_prompt(text, self.index, self.window, partial_word=partial_word,
                                  subject=(subject or "") if self.subjects else None)
        fragment = info["fragment"]
        allowed_first = None
        if fragment:
            allowed_first = self.words_starting_with(fragment)
            if allowed_first is None:
                return Completion(text="", tokens=[], token_probs=[], confidence=0.0,
                                  score=float("-inf"), method=method,
                                  reason=f"no word in the vocabulary starts with {fragment!r}",
                                  **info)
        logp, state = self._prefill(ids)
        # the word that finishes a fragment is the user's, not one more of max_words
        words = -1 if fragment else 0
        max_tokens = 2 * max_words + 8 + bool(fragment)
        prompt = tuple(ids)
        greedy = method == "greedy" or (method == "beam" and beam == 1)
        # a greedy search for a trimmed completion trims as it goes
        watch = _CutWatch(self, fragment, max_tokens) if trim and greedy else None
        if greedy:
            toks, lps = self._greedy(logp, state, max_words, max_tokens, allowed_first, words,
                                     prompt, watch)
        elif method == "sample":
            rng = np.random.default_rng(seed)
            toks, lps = self._sample(logp, state, max_words, max_tokens, temperature, rng,
                                     allowed_first, words, prompt)
        else:
            toks, lps = self._beam(logp, state, beam, max_words, max_tokens, allowed_first, words,
                                   prompt)
        if watch is not None:
            toks, lps = watch.cut(toks, lps)
        elif trim:
            toks, lps = self._trim(toks, lps, fragment)
        return self._finish(toks, lps, method, info, min_confidence)

    def words_starting_with(self, fragment: str) -> np.ndarray | None:
        """Boolean mask (V,) of the vocabulary words that start with `fragment`.

        Case-insensitive; the fragment itself is included when it is a word.
        Special tokens and placeholders never match. None when no word matches.
        """
        if self._by_spelling is None:  # the vocabulary in spelling order, for bisect
            vocab, banned = self.vocab, set(self.banned.tolist())
            order = sorted((i for i in range(len(vocab)) if i not in banned),
                           key=vocab.__getitem__)
            self._by_spelling = [vocab[i] for i in order], order
        words, ids = self._by_spelling
        fragment = fragment.lower()
        lo = bisect_left(words, fragment)
        hi = lo
        while hi < len(words) and words[hi].startswith(fragment):
            hi += 1
        if hi == lo:
            return None
        mask = np.zeros(len(self.vocab), dtype=bool)
        mask[ids[lo:hi]] = True
        return mask

    # -- search -----------------------------------------------------------------
    def _prefill(self, ids: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed the prompt once; log-probs (1, V) of the first new token and the state.

        With the memo, from the state after the longest kept text that `ids` extends.
        """
        arr = np.asarray(ids, dtype=np.int32)
        if self.memo is None:
            return self._read(arr)
        key = tuple(ids)
        n, kept = self.memo.longest(key, REUSE_TOKENS)
        if kept is None:
            logp, state = self._read(arr)
        else:
            logp, state = kept
            for i in range(n, len(arr)):  # the tokens typed since
                logp, state = self.model.step(arr[i : i + 1], state)
        if n < len(key):
            self.memo.put(key, logp, state)
        return logp, state

    def _step(self, keys: list[tuple[int, ...]], last: np.ndarray, state: list[np.ndarray]
              ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`model.step(last, state)`; with the memo, only for the rows whose sequence
        (`keys`: the prompt's ids and the row's tokens, `last` included) was not kept."""
        if self.memo is None:
            return self.model.step(last, state)
        kept = [self.memo.get(k) for k in keys]
        todo = [i for i, entry in enumerate(kept) if entry is None]
        if todo:
            if len(todo) == len(keys):  # nothing kept: the whole batch, no copy of the state
                logp, new = self.model.step(last, state)
            else:
                rows = np.array(todo)
                logp, new = self.model.step(last[rows], reorder(state, rows))
            for j, i in enumerate(todo):  # copies: a view would keep the whole batch alive
                kept[i] = (logp[j : j + 1].copy(), [s[j : j + 1].copy() for s in new])
                self.memo.put(keys[i], *kept[i])
        if len(todo) == len(keys):
            return logp, new
        return (np.concatenate([entry[0] for entry in kept]),
                [np.concatenate(rows) for rows in zip(*(entry[1] for entry in kept),
                                                      strict=True)])

    def _read(self, arr: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed a whole prompt from the start (the model's `prefill` when it has one)."""
        prefill = getattr(self.model, "prefill", None)
        if prefill is not None:
            return prefill(arr)
        state = self.model.initial_state(1)
        for i in range(len(arr)):
            logp, state = self.model.step(arr[i : i + 1], state)
        return logp, state

    def _mask(self, logp: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """Log-probs without the special tokens; with `allowed` (a boolean (V,)
        mask), only those tokens, renormalised to sum to one among them."""
        logp = np.array(logp, dtype=np.float64)  # own copy; float64 for stable sums
        logp[:, self.banned] = -np.inf
        if allowed is not None:
            logp[:, ~allowed] = -np.inf
            logp -= np.logaddexp.reduce(logp, axis=1, keepdims=True)
        return logp

    def _is_word(self, tok: int, prev: int) -> bool:
        return self.is_alnum[tok] and prev != self.apostrophe

    def _greedy(self, logp, state, max_words, max_tokens, allowed_first=None, words=0,
                prompt=(), watch: _CutWatch | None = None):
        """`allowed_first`: boolean (V,) mask of the tokens the first may be (None: any);
        `words`: the word count to start from; `prompt`: the prompt's ids (the memo's key);
        `watch`: for a trimmed completion, ends the search where no later cut can be kept."""
        toks: list[int] = []
        lps: list[float] = []
        prev = -1
        buf = np.zeros(1, dtype=np.int32)
        while True:
            logp = self._mask(logp, None if toks else allowed_first)
            tok = int(np.argmax(logp[0]))
            toks.append(tok)
            lps.append(float(logp[0, tok]))
            words += self._is_word(tok, prev)
            prev = tok
            if watch is not None:
                watch.add(toks, lps[-1])
            if (self.is_end[tok] or words >= max_words or len(toks) >= max_tokens
                    or (watch is not None and watch.done())):
                return toks, lps
            buf[0] = tok
            logp, state = self._step([prompt + tuple(toks)], buf, state)

    def _sample(self, logp, state, max_words, max_tokens, temperature, rng, allowed_first=None,
                words=0, prompt=()):
        toks: list[int] = []
        lps: list[float] = []
        prev = -1
        buf = np.zeros(1, dtype=np.int32)
        while True:
            logp = self._mask(logp, None if toks else allowed_first)[0]
            z = logp / temperature
            p = np.exp(z - z.max())
            p /= p.sum()
            tok = int(rng.choice(len(p), p=p))
            toks.append(tok)
            lps.append(float(logp[tok]))
            words += self._is_word(tok, prev)
            prev = tok
            if self.is_end[tok] or words >= max_words or len(toks) >= max_tokens:
                return toks, lps
            buf[0] = tok
            logp, state = self._step([prompt + tuple(toks)], buf, state)

    def _norm(self, total: float, length: int) -> float:
        return total / (length**self.length_alpha)

    def _beam(self, logp, state, beam, max_words, max_tokens, allowed_first=None, words=0,
              prompt=()):
        """Batched beam search; finished hypotheses are set aside, the best by score wins.

        Live hypotheses all have the same length, so ranking them by summed
        log-prob equals ranking by normalised score. Stops when `beam`
        hypotheses have finished or none is live.
        """
        V = len(self.vocab)
        # live hypotheses: token lists, per-token log-probs, summed log-prob, words
        hyps: list[tuple[list[int], list[float], int]] = [([], [], words)]
        totals = np.zeros(1)
        finished: list[tuple[float, list[int], list[float]]] = []
        allowed = allowed_first
        while True:
            logp = self._mask(logp, allowed)
            if allowed is not None:  # the typed word: its likeliest completion only
                best = int(np.argmax(logp[0]))
                kept, logp[0] = logp[0, best], -np.inf
                logp[0, best] = kept
            allowed = None
            cand = (totals[:, None] + logp).ravel()
            k = min(2 * beam, len(cand))
            top = np.argpartition(cand, len(cand) - k)[len(cand) - k:]  # the k largest
            top = top[np.isfinite(cand[top])]  # fewer than k possible tokens: those
            if not len(top):
                break
            top = top[np.argsort(-cand[top], kind="stable")]
            new_hyps, new_rows, new_totals = [], [], []
            # the candidates as Python numbers: the loop below is scalar work
            rows, tokens = np.divmod(top, V)
            for rank, (row, tok, total, lp) in enumerate(zip(
                    rows.tolist(), tokens.tolist(), cand[top].tolist(),
                    logp.ravel()[top].tolist(), strict=True)):
                toks, lps, words = hyps[row]
                prev = toks[-1] if toks else -1
                toks = toks + [tok]
                lps = lps + [lp]
                words += self._is_word(tok, prev)
                if self.is_end[tok] or words >= max_words or len(toks) >= max_tokens:
                    if rank < beam:  # only candidates that would have made the beam
                        finished.append((self._norm(total, len(toks)), toks, lps))
                    continue
                if len(new_hyps) < beam:
                    new_hyps.append((toks, lps, words))
                    new_rows.append(row)
                    new_totals.append(total)
            if len(finished) >= beam or not new_hyps:
                break
            hyps, totals = new_hyps, np.array(new_totals)
            state = reorder(state, np.array(new_rows))
            last = np.array([h[0][-1] for h in hyps], dtype=np.int32)
            logp, state = self._step([prompt + tuple(h[0]) for h in hyps], last, state)
        if not finished:  # every candidate was -inf (degenerate model): nothing to offer
            return [], []
        _, toks, lps = max(finished, key=lambda f: f[0])
        return toks, lps

    def _trim(self, toks: list[int], lps: list[float], fragment: str
              ) -> tuple[list[int], list[float]]:
        """The prefix of `toks` (not cut inside a word) with the most expected characters saved."""
        watch = _CutWatch(self, fragment, len(toks))
        for k in range(1, len(toks) + 1):
            watch.add(toks[:k], lps[k - 1])
        return watch.cut(toks, lps)

    def _inside_word(self, tok: int, nxt: int) -> bool:
        """No cut between these tokens: "don ' t", "e - mail"."""
        return bool({self.vocab[tok], self.vocab[nxt]} & {"'", "-"})

    def _chars(self, toks: list[int], fragment: str) -> int:
        """Characters of the suggestion `toks` after a prompt ending in `fragment`."""
        return len(self._text([self.vocab[t] for t in toks], fragment)[0])

    @staticmethod
    def _text(tokens: list[str], fragment: str) -> tuple[str, bool]:
        """What `tokens` add after a prompt that ends in `fragment`, and whether they
        continue its last word."""
        text = detokenize(tokens)
        continues = bool(fragment and tokens and tokens[0] != fragment)
        if fragment and tokens:  # detokenize starts with tokens[0], which starts with it
            text = text[len(fragment):]
            if not continues:
                text = text.lstrip()
        return text, continues

    def _finish(self, toks, lps, method, info, min_confidence) -> Completion:
        tokens = [self.vocab[t] for t in toks]
        score = float(np.mean(lps)) if lps else float("-inf")
        confidence = float(np.exp(score))
        suppressed = min_confidence is not None and confidence < min_confidence
        reason = None
        if suppressed:
            tokens, lps = [], []
            reason = f"confidence {confidence:.3f} is below min_confidence {min_confidence}"
        elif not tokens:
            reason = "the model gives no continuation"
        text, continues = self._text(tokens, info["fragment"])
        return Completion(
            text=text,
            tokens=tokens,
            token_probs=[float(np.exp(lp)) for lp in lps],
            confidence=confidence,
            score=score,
            method=method,
            suppressed=suppressed,
            continues_word=continues,
            reason=reason,
            **info,
        )


class _CutWatch:
    """The trim's choice of cut, followed token by token as a search grows a completion.

    `cut` keeps the prefix, never cut inside a word, with the most expected
    characters saved: P(its tokens) x (its characters - 1 for the Tab); the
    first such prefix on a tie, the whole completion when none gains. A cut
    is settled when the token after it shows it is not inside a word. A cut
    after more tokens has at most the probability of the tokens so far, and
    each token adds at most the longest vocabulary word and a space, so once
    even that bound is no more than the best settled cut, `done`: no later
    cut can be kept, and a search may stop there with the same result.
    """

    def __init__(self, completer: Completer, fragment: str, max_tokens: int):
        self.completer, self.fragment, self.max_tokens = completer, fragment, max_tokens
        self.best, self.best_len = -1.0, 0  # the best settled cut: its gain and length
        self.logp = 0.0  # log-probability of the tokens so far
        self.gain = 0.0  # the gain of cutting after them (settled by the next token)
        self.bound = 0.0  # the most any cut after them can gain

    def add(self, toks: list[int], lp: float) -> None:
        """`toks` has grown by one token, of log-probability `lp`."""
        c = self.completer
        if len(toks) > 1 and not c._inside_word(toks[-2], toks[-1]) and self.gain > self.best:
            self.best, self.best_len = self.gain, len(toks) - 1
        self.logp += lp
        p, chars = float(np.exp(self.logp)), c._chars(toks, self.fragment)
        self.gain = p * (chars - 1)
        room = (self.max_tokens - len(toks)) * c.widest  # the most later tokens can add
        self.bound = p * (chars - 1 + room)

    def done(self) -> bool:
        """No cut after a later token can beat the best settled one."""
        return self.bound <= self.best

    def cut(self, toks: list[int], lps: list[float]) -> tuple[list[int], list[float]]:
        """`toks` and `lps` (all added) cut where the most characters are expected saved."""
        keep = self.best_len if self.best_len and self.best >= self.gain else len(toks)
        return toks[:keep], lps[:keep]
