"""Turn a decoded email body into prose worth training on, and count what was dropped.

A language model trained on raw mail learns headers, quoted replies, legal boilerplate and
signatures, which the user never types. `clean()` keeps only what the sender wrote:

* a leading header block, quoted lines (`>`), `-----Original Message-----` blocks, reply
  headers (Outlook `From:/Sent:/To:` and Lotus Notes `name / date / To: / cc: / Subject:`),
  "On ... wrote:" introductions and forwarded blocks are cut, with everything after them
  (what follows is somebody else's mail);
* the signature (a `-- ` line and what follows, or a trailing block of name / company /
  address / phone lines) and legal disclaimers are cut;
* non-prose lines (tables, base64, bare URLs, lines of symbols) are removed;
* text written by the pre-tokenised Enron-Spam edition (`rebecca ' s comments .`) is
  de-tokenised (`rebecca's comments.`) so that it gives exactly the tokens of normal writing;
* whitespace is normalised: hard-wrapped lines of a paragraph are joined with spaces and
  paragraphs are separated by one newline.

`CorpusFilter` adds the corpus-level rules (duplicates, minimum length) and `CleaningSummary`
counts every message seen, kept or dropped by reason.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser

from autocomplete.tokens import detokenize, tokenize

# Reasons a message is dropped, in the order the summary lists them.
UNREADABLE = "unreadable"
BAD_ENCODING = "bad encoding"
BINARY = "binary/attachment-only"
MALFORMED = "malformed"
EMPTY = "empty after cleaning"
DUPLICATE = "duplicate"
TOO_SHORT = "too short"
DROP_REASONS = (UNREADABLE, BAD_ENCODING, BINARY, MALFORMED, EMPTY, DUPLICATE, TOO_SHORT)

# Kinds of lines removed from kept messages.
LINE_KINDS = ("header", "quoted", "forwarded", "signature", "disclaimer", "non-prose")

_DASHES = r"(?:[-=_*~]\s*){2,}"
_ORIGINAL_RE = re.compile(
    rf"^[\s>]*(?:{_DASHES}\s*(?:original message|reply separator)"
    rf"|(?:original message|reply separator)\s*(?:{_DASHES}|:?\s*$))", re.I)
_FORWARD_RE = re.compile(
    rf"^[\s>]*(?:{_DASHES}\s*(?:forwarded by\b|forwarded message\b|forward header\b)"
    rf"|begin forwarded message\s*:?|forwarded message\s*{_DASHES})", re.I)
_ON_WROTE_RE = re.compile(r"^\s*on\b.{0,200}\bwrote\s*:\s*$", re.I)
_WROTE_RE = re.compile(r"^.{0,160}\b(?:wrote|writes|a écrit|schrieb)\s*:\s*$", re.I)
_ON_START_RE = re.compile(r"^\s*on\s+\S", re.I)
_SIGNATURE_RE = re.compile(r"^(?:--|- -)\s*$")
_SIGNATURE_NAME_RE = re.compile(r"^(?:--|- -)\s*[a-z][\w.' ]{0,30}$", re.I)
_HEADER_NAMES = (
    "from|to|cc|bcc|subject|date|sent|reply-to|message-id|mime-version|content-type|"
    "content-transfer-encoding|importance|x-[\\w-]+|return-path|received|delivered-to|"
    "in-reply-to|references|organization|user-agent|thread-topic|thread-index"
)
_HEADER_LINE_RE = re.compile(rf"^\s*(?:{_HEADER_NAMES})\s*:", re.I)
_REPLY_FIELD_RE = re.compile(r"^\s*(from|to|cc|bcc|sent|date|subject)\s*:", re.I)
_DATEISH_RE = re.compile(
    r"\d{1,4}\s*/\s*\d{1,2}\s*/\s*\d{2,4}|\d{1,2}\s*:\s*\d{2}(?:\s*:\s*\d{2})?\s*(?:am|pm)?"
    r"|\bplease respond to\b|\bon behalf of\b|^\s*\S+@\S+\s*$",
    re.I,
)
_DISCLAIMER_RE = re.compile(
    r"(?:this|the)\s+(?:e\s*-?\s*mail|message|communication|transmission|information)\b"
    r".{0,80}\b(?:is|are|may be|may contain|contains?)\b.{0,40}\b(?:confidential|privileged)"
    r"|intended (?:only|solely|exclusively) for the (?:use|addressee|named|person|individual|"
    r"recipient)"
    r"|for the (?:sole|exclusive) use of the (?:intended|named|addressee)"
    r"|if you (?:are not|have received) (?:the intended recipient|this (?:e\s*-?\s*mail|message|"
    r"communication|transmission) in error)"
    r"|confidentiality (?:notice|note|statement)|legally privileged"
    r"|unauthori[sz]ed (?:use|review|disclosure|distribution|copying)",
    re.I,
)
_CONTACT_RE = re.compile(
    r"\(?\b\d{3}\)?[\s.-]*\d{3}\s*[.-]\s*\d{4}\b"
    r"|\b(?:ph|phone|tel|telephone|fax|facsimile|mobile|cell|pager|direct|office)\b\s*[.:#]?\s*[(+\d]"
    r"|\S+\s*@\s*[\w-]+\.\s*\w+|https?:|www\."
    r"|^\d+\s+\w.*\b(?:street|st|avenue|ave|road|rd|suite|blvd|boulevard|floor|drive|lane)\b"
    r"|\b[A-Za-z]{2,}\.?,?\s+\d{5}(?:-\d{4})?\s*$",
    re.I,
)
_COMPANY_END_RE = re.compile(r"\b(?:corp|inc|ltd|llc|l\.\s?p|co|plc|ph\.\s?d|jr|sr)\.$", re.I)
_URL_LINE_RE = re.compile(r"^<?\s*(?:https?://|www\.|mailto:|ftp://)\S*\s*>?$", re.I)
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/=]{40,}$")
_SYMBOLS_RE = re.compile(r"^[\W_]+$")
_LONG_TOKEN_RE = re.compile(r"\S{60,}")
_PUNCT_RE = re.compile(r"[^\s\w]")
_ATTACHED_PUNCT_RE = re.compile(r"\w[^\s\w]|[^\s\w]\w")
_SPACE_RE = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CHAR_MAP = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None,
    "\ufeff": None, "\r": None,
})


@dataclass
class Cleaned:
    """What `clean()` made of one body: the text, or why there is none."""

    body: str | None
    reason: str | None = None
    removed: Counter[str] = field(default_factory=Counter)


@dataclass
class CleaningSummary:
    """Counts for one corpus load: what was seen, kept and dropped, and why."""

    format: str = ""
    files: int = 0
    messages: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    removed_lines: Counter[str] = field(default_factory=Counter)
    members: Counter[str] = field(default_factory=Counter)

    def drop(self, reason: str) -> None:
        """Count one message seen and dropped for `reason`."""
        self.messages += 1
        self.dropped[reason] += 1

    def format_label(self) -> str:
        """The detected format, with the kinds of files found inside folders and archives."""
        inner = ", ".join(f"{kind} x{n:,}" for kind, n in self.members.most_common())
        return f"{self.format} ({inner})" if inner and self.members.keys() != {self.format} \
            else self.format

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) rows of the summary table."""
        rows = [("format", self.format_label()), ("files", f"{self.files:,}"),
                ("messages", f"{self.messages:,}"), ("kept", f"{self.kept:,}")]
        rows += [(f"dropped: {r}", f"{self.dropped[r]:,}") for r in DROP_REASONS
                 if self.dropped[r]]
        rows += [(f"dropped: {r}", f"{n:,}") for r, n in self.dropped.items()
                 if r not in DROP_REASONS and n]
        rows += [(f"lines removed: {k}", f"{self.removed_lines[k]:,}") for k in LINE_KINDS
                 if self.removed_lines[k]]
        return rows

    def table(self, extra: Iterable[tuple[str, str]] = ()) -> str:
        """The summary as a two-column text table (extra rows appended)."""
        rows = self.rows() + list(extra)
        width = max(len(label) for label, _ in rows)
        vwidth = max(len(value) for _, value in rows)
        return "\n".join(f"{label:<{width}}  {value:>{vwidth}}" for label, value in rows)

    def __str__(self) -> str:
        return self.table()


# ---------------------------------------------------------------------------
# Text-level helpers


def normalize_chars(text: str) -> str:
    """NFC, typographic quotes and dashes as ASCII, no CR / zero-width / control chars.

    Curly quotes would otherwise become tokens of their own ("’" is not "'").
    """
    text = unicodedata.normalize("NFC", text).translate(_CHAR_MAP)
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        text = "".join(c if ord(c) >= 32 or c in "\n\t" else " " for c in text)
    return text


def is_pretokenized(text: str) -> bool:
    """True for lower-cased text with every punctuation mark spaced off (Enron-Spam style)."""
    if any(c.isupper() for c in text):
        return False
    puncts = len(_PUNCT_RE.findall(text))
    if not puncts:
        return False
    attached = len(_ATTACHED_PUNCT_RE.findall(text))
    return attached <= puncts * 0.02


def detokenize_text(text: str) -> str:
    """Rewrite pre-tokenised text line by line as normal writing, keeping the same tokens.

    A line whose de-tokenised form would tokenize differently is left as it is.
    """
    out = []
    for line in text.split("\n"):
        tokens = tokenize(line)
        joined = detokenize(tokens)
        out.append(joined if tokenize(joined) == tokens else line)
    return "\n".join(out)


def body_key(text: str) -> str:
    """Hash of the body's tokens: equal for bodies that differ only in case and spacing."""
    return hashlib.sha1(" ".join(tokenize(text)).encode("utf-8")).hexdigest()


def word_count(text: str) -> int:
    """Number of word tokens (letters/digits) in `text`."""
    return sum(1 for t in tokenize(text) if t[0].isalnum())


class _HTMLText(HTMLParser):
    """Collects the visible text of an HTML body; quoted replies (<blockquote>, Gmail /
    Thunderbird quote divs) and scripts/styles are left out."""

    _SKIP = {"script", "style", "head", "title", "blockquote", "noscript", "template"}
    _QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "divRplyFwdMsg")
    _BLOCK = {"p", "div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
              "pre", "hr", "dl", "dt", "dd", "section", "article", "header", "footer", "td",
              "th", "center", "address"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_tag: str | None = None
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        classes = " ".join(v or "" for k, v in attrs if k in ("class", "id"))
        if tag in self._SKIP or any(c in classes for c in self._QUOTE_CLASSES):
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is None and tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in self._BLOCK:
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_data(self, data: str) -> None:
        if self._skip_tag is None:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Visible text of an HTML body: block elements become line breaks, quotes are dropped."""
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient; never fail a whole corpus
        return unescape(re.sub(r"<[^>]*>", " ", html))
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_HTML_HINT_RE = re.compile(r"<(?:html|body|div|p|br|table|font|span|td)\b[^>]*>", re.I)


def looks_like_html(text: str) -> bool:
    """True when a text/plain body is really HTML (some Enron and marketing mail)."""
    return len(_HTML_HINT_RE.findall(text[:20000])) >= 3


# ---------------------------------------------------------------------------
# Line-level cleaning


def _is_reply_header(lines: list[str], i: int) -> bool:
    """A `From:/To:/Sent:` line followed closely by other reply-header fields."""
    m = _REPLY_FIELD_RE.match(lines[i])
    if not m or m.group(1).lower() not in ("from", "to", "sent", "date"):
        return False
    seen = {m.group(1).lower()}
    for line in lines[i + 1:i + 7]:
        m2 = _REPLY_FIELD_RE.match(line)
        if m2:
            seen.add(m2.group(1).lower())
    return len(seen) >= 2 and bool(seen & {"subject", "sent", "cc", "date"})


def _reply_preamble_start(lines: list[str], i: int, floor: int) -> int:
    """Walk back over the "name / date / Please respond to" lines above a reply header."""
    j = i
    while j - 1 >= floor and i - (j - 1) <= 4 and lines[j - 1].strip() \
            and _DATEISH_RE.search(lines[j - 1]) and len(lines[j - 1].split()) <= 16:
        j -= 1
    if j < i and j - 1 >= floor:
        name = lines[j - 1].strip()
        if name and len(name.split()) <= 5 and name[-1] not in ".!?,;:":
            j -= 1
    return j


def _cut_point(lines: list[str]) -> tuple[int, str] | None:
    """First line where somebody else's mail starts, and what kind of block it is."""
    for i, line in enumerate(lines):
        if _ORIGINAL_RE.match(line):
            return i, "quoted"
        if _FORWARD_RE.match(line):
            return i, "forwarded"
        if _ON_WROTE_RE.match(line):
            return i, "quoted"
        if _WROTE_RE.match(line):
            start = i - 1 if i > 0 and _ON_START_RE.match(lines[i - 1]) else i
            return start, "quoted"
        if _is_reply_header(lines, i):
            return _reply_preamble_start(lines, i, 0), "quoted"
    return None


def _disclaimer_start(lines: list[str]) -> int | None:
    """First line of a legal disclaimer (and the start of its sentence above it)."""
    for i, line in enumerate(lines):
        if _DISCLAIMER_RE.search(line):
            j = i
            while j > 0 and i - j < 3 and lines[j - 1].strip() \
                    and lines[j - 1].rstrip()[-1] not in ".!?:":
                j -= 1
            return j
    return None


def _contact_block_start(lines: list[str]) -> int | None:
    """Start of a trailing signature block: name, title, company, address, phone, e-mail.

    Needs at least one contact line (phone, address, e-mail, URL); walks up over short lines
    without sentence-final punctuation, at most 10 lines, stopping at a blank line.
    """
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start, contacts = end, 0
    while start > 0 and end - start < 10:
        line = lines[start - 1].strip()
        if not line:
            break
        words = len(line.split())
        sentence = words >= 3 and line[-1] in ".!?"
        if words <= 10 and not sentence and _CONTACT_RE.search(line):
            contacts += 1
        elif not (words <= 6 and (line[-1] not in ".!?" or _COMPANY_END_RE.search(line))):
            break
        start -= 1
    return start if contacts and start < end else None


def _non_prose(line: str) -> bool:
    """Tables, base64, bare URLs, long unbroken strings and lines of only symbols."""
    stripped = line.strip()
    if not stripped:
        return False
    if stripped.count("|") >= 3 or line.count("\t") >= 2:
        return True
    if _SYMBOLS_RE.match(stripped) or _URL_LINE_RE.match(stripped):
        return True
    if _BASE64_RE.match(stripped) and not stripped.isalpha():
        return True
    long_chars = sum(len(m) for m in _LONG_TOKEN_RE.findall(stripped))
    return long_chars > len(stripped) / 2


def _leading_headers(lines: list[str]) -> int:
    """Number of lines of a header block at the top of the body (0 if none)."""
    n = 0
    fields = 0
    while n < len(lines):
        line = lines[n]
        if _HEADER_LINE_RE.match(line):
            fields += 1
        elif not (fields and line[:1] in (" ", "\t") and line.strip()):
            break
        n += 1
    if fields >= 2 and (n == len(lines) or not lines[n].strip()):
        return n
    return 0


def _paragraphs(lines: list[str]) -> str:
    """Join hard-wrapped lines; one paragraph per output line."""
    paras: list[str] = []
    current: list[str] = []
    for line in lines:
        line = _SPACE_RE.sub(" ", line).strip()
        if line:
            current.append(line)
        elif current:
            paras.append(" ".join(current))
            current = []
    if current:
        paras.append(" ".join(current))
    return "\n".join(paras)


def clean(text: str) -> Cleaned:
    """Clean one decoded email body; `Cleaned.body` is None (with a reason) when nothing is left.

    Line removals are counted in `Cleaned.removed` by kind (see LINE_KINDS).
    """
    removed: Counter[str] = Counter()
    text = normalize_chars(text)
    if is_pretokenized(text):
        text = detokenize_text(text)
    lines = text.split("\n")

    n = _leading_headers(lines)
    if n:
        removed["header"] += n
        lines = lines[n:]

    cut = _cut_point(lines)
    if cut is not None:
        i, kind = cut
        removed[kind] += sum(1 for line in lines[i:] if line.strip())
        lines = lines[:i]

    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(">") or stripped.startswith("|>"):
            removed["quoted"] += 1
            continue
        kept.append(line)
    lines = kept

    for i, line in enumerate(lines):
        stripped = line.strip()
        if _SIGNATURE_RE.match(line.rstrip("\n")) or (
                _SIGNATURE_NAME_RE.match(stripped) and len(lines) - i <= 12 and i > 0):
            removed["signature"] += sum(1 for x in lines[i:] if x.strip())
            lines = lines[:i]
            break

    d = _disclaimer_start(lines)
    if d is not None:
        removed["disclaimer"] += sum(1 for x in lines[d:] if x.strip())
        lines = lines[:d]

    kept = []
    for line in lines:
        if _non_prose(line):
            removed["non-prose"] += 1
        else:
            kept.append(line)
    lines = kept

    c = _contact_block_start(lines)
    if c is not None:
        removed["signature"] += sum(1 for x in lines[c:] if x.strip())
        lines = lines[:c]

    body = _paragraphs(lines)
    if not any(t[0].isalnum() for t in tokenize(body)):
        return Cleaned(None, EMPTY, removed)
    return Cleaned(body, None, removed)


def clean_body(text: str) -> str | None:
    """The cleaned body, or None when nothing worth training on is left (see `clean`)."""
    return clean(text).body


def clean_subject(subject: str) -> str:
    """Subject on one line, typographic characters normalised, de-tokenised if needed."""
    subject = normalize_chars(subject)
    if is_pretokenized(subject):
        subject = detokenize_text(subject)
    return _SPACE_RE.sub(" ", subject.replace("\n", " ")).strip()


class CorpusFilter:
    """Corpus-level rules on top of `clean`: drop duplicates and too-short bodies, count all.

    Duplicates are judged on the token sequence, so a pre-tokenised copy of a message and the
    original are the same message.
    """

    def __init__(self, summary: CleaningSummary | None = None, min_words: int = 0) -> None:
        self.summary = summary if summary is not None else CleaningSummary()
        self.min_words = min_words
        self._seen: set[bytes] = set()

    def accept(self, text: str) -> str | None:
        """Cleaned body of one message, or None (the drop is counted in the summary)."""
        result = clean(text)
        if result.body is None:
            self.summary.drop(result.reason or EMPTY)
            return None
        tokens = tokenize(result.body)
        if self.min_words and sum(1 for t in tokens if t[0].isalnum()) < self.min_words:
            self.summary.drop(TOO_SHORT)
            return None
        key = hashlib.sha1(" ".join(tokens).encode("utf-8")).digest()
        if key in self._seen:
            self.summary.drop(DUPLICATE)
            return None
        self._seen.add(key)
        self.summary.messages += 1
        self.summary.kept += 1
        self.summary.removed_lines.update(result.removed)
        return result.body
