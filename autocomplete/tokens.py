"""Word-level tokens: the one definition of how text becomes tokens and back.

Pure Python on purpose: the corpus generator, the mail cleaner and the
TensorFlow-free completion path all need it without importing TensorFlow.
`autocomplete.textprep` mirrors `TOKEN_PATTERN_TF` inside Keras
`TextVectorization`, and a test checks that the two agree.

Rules: lower-case; a token is a run of letters/digits, or one punctuation
character on its own (so "loan." is "loan", "."; "Rebecca's" is
"rebecca", "'", "s" -- which is also how the pre-tokenised Enron-Spam
edition writes it).

A prompt typed letter by letter usually ends inside a word: `split_fragment`
tells a finished last word ("let me know ", "Thanks,") from one still being
typed ("let me kn"), which completion treats as the start of the next token.

A model trained with subjects (`train --subject`) reads each email as its
subject's tokens, then `SUBJECT_SEPARATOR`, then the body's (`subject_prefix`);
like the specials, the separator is never suggested.
"""

from __future__ import annotations

import re

PAD = ""  # index 0
OOV = "[UNK]"  # index 1
START = "[start]"  # index 2: start-of-email marker; no text can produce it
SPECIALS = (PAD, OOV, START)
# Their ids: every vocabulary starts with SPECIALS, so these hold for every model.
PAD_ID = 0  # padding; never a prediction target
OOV_ID = 1  # a word outside the vocabulary
START_ID = 2  # first id of every email's sequence
SPECIAL_IDS = (PAD_ID, OOV_ID, START_ID)
# Between an email's subject and its body, for models trained with subjects: one token
# of letters (so TextVectorization keeps it whole), spelled like the placeholders.
SUBJECT_SEPARATOR = "xxbody"

_TOKEN_RE = re.compile(r"[^\W_]+|[^\s\w]|_")
_WORD_RE = re.compile(r"[^\W_]+")
# TensorFlow (RE2) form used by TextVectorization: pad every character that is
# not a letter, digit, mark or space with spaces, then split on whitespace.
TOKEN_PATTERN_TF = r"([^\s\pL\pN\pM])"

SENTENCE_END = frozenset({".", "!", "?"})
_NO_SPACE_BEFORE = frozenset(".,!?;:%)]}")
_NO_SPACE_AFTER = frozenset("$([{#")
_CONTRACTIONS = frozenset({"s", "t", "re", "ve", "ll", "d", "m"})


def tokenize(text: str) -> list[str]:
    """Split text into lower-case word and punctuation tokens."""
    return _TOKEN_RE.findall(text.lower())


def subject_prefix(subject: str) -> list[str]:
    """The tokens a subject-trained model reads before an email's body: the subject's,
    then `SUBJECT_SEPARATOR` (alone for an empty subject).

    Example:
        >>> subject_prefix("Re: Loan")
        ['re', ':', 'loan', 'xxbody']
    """
    return tokenize(subject) + [SUBJECT_SEPARATOR]


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character (start, end) of each token of `tokenize(text)` in `text`."""
    return [m.span() for m in _TOKEN_RE.finditer(text.lower())]


def split_fragment(text: str) -> tuple[list[str], str]:
    """Tokens of `text` before the word still being typed, and that word (lower-case).

    The last word is a fragment when the text ends inside it: with a letter
    or digit, not with whitespace or punctuation. Without one the fragment
    is "" and the tokens are all of `tokenize(text)`.

    Example:
        >>> split_fragment("Please let me Kn")
        (['please', 'let', 'me'], 'kn')
        >>> split_fragment("Thanks,")
        (['thanks', ','], '')
    """
    tokens = tokenize(text)
    low = text.lower()
    if tokens and _WORD_RE.fullmatch(tokens[-1]) and low.endswith(tokens[-1]):
        return tokens[:-1], tokens[-1]
    return tokens, ""


def detokenize(tokens: list[str]) -> str:
    """Join tokens the way people write: "i need a loan ." -> "i need a loan.".

    Inverse of `tokenize` for normally written, lower-case text.
    """
    out = ""
    prev = ""
    for i, tok in enumerate(tokens):
        if tok in SPECIALS:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        glue = (
            not out
            or tok in _NO_SPACE_BEFORE
            or prev in _NO_SPACE_AFTER
            or (tok == "'" and prev.isalnum() and nxt in _CONTRACTIONS)
            or (prev == "'" and tok in _CONTRACTIONS and len(out) > 1 and out[-2].isalnum())
            or (tok == "-" and prev.isalnum() and nxt[:1].isalnum())
            or (prev == "-" and tok[:1].isalnum() and len(out) > 1 and out[-2].isalnum())
            or (_number_part(tok, prev) and len(out) > 1 and out[-2].isdigit())
        )
        out += tok if glue else " " + tok
        prev = tok
    return out


def _number_part(tok: str, prev: str) -> bool:
    """The digits after "4,", "10:" or "3." in "4,250", "10:30", "3.5"."""
    if not tok.isdigit():
        return False
    return prev in {":", "."} or (prev == "," and len(tok) == 3)
