"""Load real mail -- mbox, maildir, folders of .eml/.txt, CSV, JSONL, text, archives -- as text.

Users train on their own mail, which comes in many shapes. `load_corpus(path)` detects the
shape from the path and returns one cleaned row per kept email; `iter_messages(path)` streams
the decoded messages one at a time so memory stays bounded by the largest message, not by the
corpus (a 1 GB mbox or a 400 MB Kaggle CSV never sits in memory).

Formats, by path:

* a directory: every file below it (sorted, numbers in names compared as numbers; hidden
  files, mail-client index files and a maildir's `tmp/` -- a `tmp/` beside `cur/` or `new/`,
  holding deliveries still being written -- skipped) is dispatched by the rules for a file,
  except that a plain text file is one email -- this covers maildir (`cur/`, `new/`), the
  Enron layout (`inbox/12.`), folders of `.eml` / Apple Mail `.emlx` and the Enron-Spam
  `.txt` files;
* `.zip`, `.tar`, `.tar.gz`, `.tgz` (and `.tar.bz2`, `.tar.xz`): members are read in
  place, never unpacked to disk, and dispatched like the files of a directory; `include`
  globs select members (`["enron1/*", "enron2/*"]`); a maildir's `tmp/` is skipped in a zip,
  and in a tar (read in one pass) when its `cur/` or `new/` came first, as in sorted tars;
* `.csv`, `.tsv`: one email per row, from `text_column` or the first of
  message/text/body/content;
  a cell holding a raw RFC 822 message (the Enron Kaggle `emails.csv`) is parsed as one;
  the encoding (UTF-8, else cp1252 as Excel writes) and the delimiter (`,` `;` tab or `|`,
  counted in the header line) are decided from the first 64 KiB;
* `.jsonl`, `.ndjson`: one email per line holding a JSON object, whose keys are chosen like
  CSV columns (text, subject, id); it is an error if the first object has no text key, as for
  a CSV header; later lines that are not objects or hold no text string are malformed;
* an mbox (first line `From `, or `.mbox`/`.mbx`): split on `From ` lines by a streaming
  reader (`mailbox.mbox` needs a real file and reads a whole message per key; the reader
  here also works inside archives);
* `.gz` of any single file: decompressed on the fly (`.jsonl.gz`, `.mbox.gz`, ...);
* any other file: an RFC 822 message (`.eml`, maildir files), an Enron-Spam file (first line
  `Subject: ...`, then the body) or, for a top-level plain text file, one email per block of
  lines, blocks being separated by one or more blank lines.

A file or member that starts with a UTF-16 byte-order mark (what Windows tools write as
"Unicode text") is read as UTF-8 first, then dispatched by the same rules.

Messages are parsed with `email` (policy.compat32, several times faster than policy.default,
whose header objects we do not need): the first inline text/plain part is preferred,
text/html is converted to text, attachments are skipped, charsets are decoded with fallbacks.
Unreadable files, binary junk, bad encodings and truncated or malformed messages are skipped
and counted in the `CleaningSummary`, never raised.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import email
import email.errors
import email.header
import email.policy
import fnmatch
import gzip
import io
import json
import lzma
import os
import re
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO

import pandas as pd

from autocomplete.corpus.cleaning import (
    BAD_ENCODING,
    BINARY,
    MALFORMED,
    UNREADABLE,
    CleaningSummary,
    CorpusFilter,
    clean_subject,
    html_to_text,
    looks_like_html,
)

MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # a larger single message is attachments, not prose
NESTED_ARCHIVE_BYTES = 256 * 1024 * 1024  # nested zips need seeking: read into memory up to this
SAMPLE_BYTES = 64 * 1024  # a CSV's encoding and delimiter are decided from this many first bytes
TEXT_COLUMNS = ("message", "text", "body", "content")
ID_COLUMNS = ("id", "file", "message_id", "message-id", "filename")
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
_SKIP_SUFFIXES = (".msf", ".json", ".sqlite", ".db", ".dat", ".idx", ".plist", ".toc",
                  ".ds_store", ".index", ".lock")
_MBOX_SUFFIXES = (".mbox", ".mbx", ".mbs")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
# What reading a damaged file or archive raises; the file is then counted unreadable, never
# a crash (zlib and lzma raise their own errors, not OSError, on damaged compressed data).
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, tarfile.TarError,
                zipfile.BadZipFile)
_CSV_SUFFIXES = (".csv", ".tsv")
_CSV_DELIMITERS = (",", ";", "\t", "|")  # in order of preference when counts tie
_LATIN1_FALLBACK = "autocomplete.latin1"  # the codecs error handler registered below
_FROM_LINE_RE = re.compile(  # "From sender Sat Jun 20 12:00:00 2020": asctime after the sender
    rb"^From \S+\s.*\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s.{0,20}?\b\d{1,2}:\d\d")
_HEADER_FIELD_RE = re.compile(rb"^([A-Za-z0-9][A-Za-z0-9_-]{0,60}):[ \t]?")
_KNOWN_HEADERS = {
    b"from", b"to", b"cc", b"bcc", b"subject", b"date", b"message-id", b"received",
    b"return-path", b"mime-version", b"content-type", b"content-transfer-encoding",
    b"reply-to", b"sender", b"delivered-to", b"in-reply-to", b"references", b"x-from",
    b"x-to", b"x-folder", b"x-mailer", b"user-agent", b"thread-topic", b"x-gmail-labels",
}
_STRUCTURE_DEFECTS = (
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.InvalidBase64PaddingDefect,
    email.errors.InvalidBase64LengthDefect,
)


@dataclass(frozen=True)
class RawMessage:
    """One message as decoded text, before cleaning; `problem` is a drop reason if unusable."""

    id: str
    source: str
    subject: str = ""
    body: str = ""
    problem: str | None = None


class _Context:
    """Options and counters shared by the readers of one load."""

    def __init__(self, summary: CleaningSummary, text_column: str | None,
                 include: list[str] | None) -> None:
        self.summary = summary
        self.text_column = text_column
        self.include = include

    def wanted(self, name: str) -> bool:
        if not self.include:
            return True
        return any(fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(name, pat.rstrip("/") + "/*")
                   for pat in self.include)

    def member(self, kind: str) -> None:
        self.summary.files += 1
        self.summary.members[kind] += 1


# ---------------------------------------------------------------------------
# Public API


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name of the format `load_corpus` reads `path` as (raises ValueError if it cannot)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    if p.is_dir():
        return "folder"
    if not p.is_file():
        raise ValueError(f"not a file or folder: {p}")
    name = p.name.lower()
    if name.endswith(".zip"):
        return "zip archive"
    if name.endswith(_TAR_SUFFIXES):
        return "tar archive"
    try:
        with open(p, "rb") as f:
            head = f.read(8192)
    except OSError as err:
        raise ValueError(f"cannot read {p}: {err}") from err
    kind = _file_kind(name[:-3], _utf8_head(_gunzip_head(p)), top=True) \
        if name.endswith(".gz") else _file_kind(name, _utf8_head(head), top=True)
    if kind == "binary":
        raise ValueError(f"{p}: unknown format (not mail, CSV, text or an archive of them)")
    return "gzip " + kind if name.endswith(".gz") else kind


def iter_messages(path: str | os.PathLike[str], *, text_column: str | None = None,
                  include: Iterable[str] | None = None,
                  summary: CleaningSummary | None = None) -> Iterator[RawMessage]:
    """Stream the messages found at `path`, decoded but not cleaned, one at a time.

    `include`: globs on paths inside a folder or archive (`"enron1/*"`) to read only those.
    `summary`, if given, gets the format and the counts of files read. The path and format
    are checked here, before the first message is asked for.
    """
    p = Path(path)
    summary = summary if summary is not None else CleaningSummary()
    summary.format = detect_format(p)
    if text_column is not None and not (summary.format.endswith(("csv", "jsonl")) or p.is_dir()
                                        or "archive" in summary.format):
        raise ValueError(f"a text column applies to CSV and JSONL files, not to {summary.format}")
    ctx = _Context(summary, text_column, list(include) if include else None)
    return _iter_top(p, ctx)


def _iter_top(p: Path, ctx: _Context) -> Iterator[RawMessage]:
    if p.is_dir():
        yield from _iter_folder(p, ctx)
        return
    name = p.name
    if name.lower().endswith(".zip"):
        yield from _iter_zip(lambda: zipfile.ZipFile(p), name, "", ctx)
        return
    with open(p, "rb", buffering=SAMPLE_BYTES) as f:  # so that _peek can see SAMPLE_BYTES
        yield from _iter_stream(f, name, name, ctx, top=True)


def load_corpus(path: str | os.PathLike[str], *, text_column: str | None = None,
                min_words: int = 0, include: Iterable[str] | None = None,
                limit: int | None = None,
                progress: bool = True) -> tuple[pd.DataFrame, CleaningSummary]:
    """Read, clean and de-duplicate the mail at `path`.

    Returns a DataFrame with one row per kept email -- columns id (stable: the path inside the
    corpus, plus `#n` for files holding many messages), subject, body (cleaned), deps (an
    empty list: real mail has no dependency metadata) and source (the file it came from) --
    and the `CleaningSummary`. `limit` stops after that many kept emails.
    """
    from tqdm import tqdm

    summary = CleaningSummary()
    keep = CorpusFilter(summary, min_words=min_words)
    rows: dict[str, list] = {"id": [], "subject": [], "body": [], "deps": [], "source": []}
    messages = iter_messages(path, text_column=text_column, include=include, summary=summary)
    # the bar only on a terminal: a log file gets no carriage-return redraws
    show = progress and sys.stderr.isatty()
    with tqdm(messages, disable=not show, file=sys.stderr, unit=" msg", mininterval=0.5,
              desc="reading mail") as bar:
        for msg in bar:
            if msg.problem is not None:
                summary.drop(msg.problem)
                continue
            body = keep.accept(msg.body)
            if body is None:
                continue
            rows["id"].append(msg.id)
            rows["subject"].append(clean_subject(msg.subject))
            rows["body"].append(body)
            rows["deps"].append([])
            rows["source"].append(msg.source)
            if limit is not None and summary.kept >= limit:
                break
    df = pd.DataFrame(rows, columns=["id", "subject", "body", "deps", "source"])
    return df, summary


# ---------------------------------------------------------------------------
# Decoding


def decode_bytes(data: bytes, charset: str | None = None) -> tuple[str | None, str | None]:
    """Text of `data` in its declared charset, with fallbacks; (None, BAD_ENCODING) if hopeless.

    Mail often lies about its charset (us-ascii or latin-1 holding UTF-8 or cp1252), so a
    declared ASCII/Latin charset is read as strict UTF-8, then cp1252 (what browsers do for
    latin-1), then latin-1; other declared charsets come first. Only when all fail
    is the text decoded with replacement characters, and dropped if many were needed.
    """
    declared = (charset or "").strip().strip('"').lower() or None
    tries: list[str] = []
    if declared and declared not in _LATIN_ALIASES:
        tries.append(declared)
    tries += ["utf-8", "cp1252"]
    if declared and declared in _LATIN_ALIASES and declared not in _ASCII_ALIASES:
        tries.append("latin-1")
    for enc in tries:
        try:
            return data.decode(enc), None
        except (UnicodeDecodeError, LookupError):
            continue
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad > max(3, len(text) // 100):
        return None, BAD_ENCODING
    return text, None


_ASCII_ALIASES = {"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "646", "us"}
_LATIN_ALIASES = _ASCII_ALIASES | {"iso-8859-1", "iso8859-1", "latin-1", "latin1",
                                   "l1", "cp819", "iso_8859-1", "windows-1252", "cp1252"}


def _latin1_fallback(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) as latin-1.

    Every byte is defined in latin-1, so cp1252 decoding with this handler cannot fail.
    """
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return err.object[err.start:err.end].decode("latin-1"), err.end


codecs.register_error(_LATIN1_FALLBACK, _latin1_fallback)


def _text_encoding(sample: bytes, complete: bool) -> tuple[str, str]:
    """(encoding, errors) to decode a text stream whose first bytes are `sample`.

    UTF-8 (a BOM skipped) when the sample decodes as UTF-8 -- a character cut by the end of
    the sample allowed unless `complete` (the sample is the whole stream) -- and later bad
    bytes become U+FFFD; otherwise cp1252 (what Excel writes outside UTF-8), which with the
    latin-1 fallback decodes any byte.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "replace"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return "cp1252", _LATIN1_FALLBACK
    return "utf-8-sig", "replace"


def _csv_delimiter(text: str) -> str:
    """The most frequent of `,` `;` tab `|` outside quotes in the first line; `,` if none."""
    counts = dict.fromkeys(_CSV_DELIMITERS, 0)
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "\r\n":
            break
        elif ch in counts:
            counts[ch] += 1
    best = max(_CSV_DELIMITERS, key=counts.__getitem__)  # the first of equal counts
    return best if counts[best] else ","


def _looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters: not mail text."""
    sample = data[:65536]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > len(sample) * 0.05


def _header_fields(data: bytes) -> tuple[int, bool]:
    """(known header fields in the leading header block, whether it starts with Subject:)."""
    known = 0
    first_subject = False
    for i, line in enumerate(data[:16384].splitlines()[:80]):
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            continue
        m = _HEADER_FIELD_RE.match(line)
        if not m:
            if i == 0 and line.startswith(b"From "):
                continue
            break
        name = m.group(1).lower()
        if i == 0 and name == b"subject":
            first_subject = True
        if name in _KNOWN_HEADERS or name.startswith(b"x-"):
            known += 1
    return known, first_subject


def _is_rfc822(data: bytes) -> bool:
    known, first_subject = _header_fields(data.lstrip(b"\xef\xbb\xbf\r\n"))
    if known >= 2:
        return True
    return known == 1 and not first_subject and b"\n\n" in data[:16384].replace(b"\r\n", b"\n")


def _is_enron_spam(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf").lower().startswith(b"subject:")


def _header_text(msg: Message, name: str) -> str:
    """A header with RFC 2047 encoded-words decoded; malformed ones fall back to the raw text."""
    try:
        raw = msg.get(name)
    except Exception:  # noqa: BLE001 - hostile headers must not stop a corpus load
        return ""
    if raw is None:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except Exception:  # noqa: BLE001
        return str(raw)


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment"
    except Exception:  # noqa: BLE001
        return False


def _find_body(msg: Message) -> Message | None:
    """The first inline text/plain part, else the first text/html one (like `get_body`).

    Attachments and attached messages (message/rfc822: forwarded mail) are not searched.
    """
    html: Message | None = None
    stack = [msg]
    while stack:
        part = stack.pop()
        if part.is_multipart():
            payload = part.get_payload()
            if part.get_content_maintype() == "multipart" and isinstance(payload, list):
                stack.extend(reversed(payload))
            continue
        if _is_attachment(part):
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            return part
        if ctype == "text/html" and html is None:
            html = part
    return html


def _part_text(part: Message) -> tuple[str | None, str | None]:
    payload = part.get_payload(decode=True)
    if payload is None:
        return None, MALFORMED
    if isinstance(payload, str):
        payload = payload.encode("utf-8", errors="replace")
    if _looks_binary(payload):
        return None, BINARY
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        charset = None
    return decode_bytes(payload, charset)


def message_text(msg: Message) -> tuple[str, str, str | None]:
    """(subject, body text, problem) of a parsed RFC 822 message.

    Prefers text/plain, converts text/html, skips attachments; `problem` is a drop reason.
    """
    try:
        subject = _header_text(msg, "subject")
        if any(isinstance(d, _STRUCTURE_DEFECTS) for d in msg.defects):
            return subject, "", MALFORMED
        part = _find_body(msg)
        if part is None:
            return subject, "", BINARY
        text, problem = _part_text(part)
        if any(isinstance(d, _STRUCTURE_DEFECTS) for d in part.defects):
            return subject, "", MALFORMED
        if text is None:
            return subject, "", problem
        if part.get_content_type() == "text/html" or looks_like_html(text):
            text = html_to_text(text)
        return subject, text, None
    except Exception:  # noqa: BLE001 - hostile mail must not stop a corpus load
        return "", "", MALFORMED


def parse_message(data: bytes) -> tuple[str, str, str | None]:
    """(subject, body text, problem) of raw RFC 822 bytes (an mbox `From ` line is allowed)."""
    if _looks_binary(data):
        return "", "", BINARY
    norm = data.replace(b"\r\n", b"\n")
    if b"\n\n" not in norm.strip(b"\n"):
        return "", "", MALFORMED  # headers with no body: truncated
    try:
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception:  # noqa: BLE001
        return "", "", MALFORMED
    return message_text(msg)


def _single_message(data: bytes, mid: str, source: str) -> RawMessage:
    """One file (or CSV cell) holding one email in any of the single-message shapes."""
    data = data.lstrip(b"\xef\xbb\xbf")
    if _looks_binary(data):
        return RawMessage(mid, source, problem=BINARY)
    if _is_rfc822(data):
        subject, body, problem = parse_message(data)
        return RawMessage(mid, source, subject, body, problem)
    text, problem = decode_bytes(data)
    if text is None:
        return RawMessage(mid, source, problem=problem)
    subject = ""
    if _is_enron_spam(data):
        first, _, text = text.partition("\n")
        subject = first.split(":", 1)[1].strip()
    if looks_like_html(text):
        text = html_to_text(text)
    return RawMessage(mid, source, subject, text)


# ---------------------------------------------------------------------------
# Readers


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _skipped_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base or base.startswith(".") or base.lower().endswith(_SKIP_SUFFIXES) \
        or base in ("maildirfolder", "dovecot-uidlist", "dovecot-keywords", "__MACOSX")


def _file_kind(name: str, head: bytes, top: bool) -> str:
    """Kind of a file from its name and first bytes (see the module docstring)."""
    name = name.lower()
    if name.endswith(".zip"):
        return "zip archive"
    if name.endswith(_TAR_SUFFIXES):
        return "tar archive"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    stripped = head.lstrip(b"\xef\xbb\xbf")
    if stripped.startswith(b"From ") or name.endswith(_MBOX_SUFFIXES):
        return "mbox"
    if _looks_binary(head):
        return "binary"
    if _is_rfc822(stripped):
        return "rfc822"
    if _is_enron_spam(stripped):
        return "subject+body text"
    return "plain text" if top else "text"


def _gunzip_head(p: Path) -> bytes:
    try:
        with gzip.open(p, "rb") as f:
            return f.read(8192)
    except _READ_ERRORS:
        return b""


class _Reader(io.RawIOBase):
    """A plain forward-only view of an archive member.

    Members of a streamed tar raise on `seekable()`, which io.TextIOWrapper calls, and zip or
    gzip members peek only a few hundred bytes; a BufferedReader over this fixes both.
    """

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._f.read(len(b))
        b[:len(data)] = data
        return len(data)


def _is_utf16(head: bytes) -> bool:
    """A UTF-16 byte-order mark (and not UTF-32's, which starts with UTF-16LE's)."""
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(
        codecs.BOM_UTF32_LE)


def _utf8_head(head: bytes) -> bytes:
    """The first bytes of a file as the readers see them: UTF-16 text re-encoded as UTF-8."""
    if not _is_utf16(head):
        return head
    return codecs.getincrementaldecoder("utf-16")("replace").decode(head).encode()


class _Utf8FromUtf16(io.RawIOBase):
    """A UTF-16 stream (BOM first) read as UTF-8 bytes, decoded as it is read."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._decoder = codecs.getincrementaldecoder("utf-16")("replace")
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._f.read(65536)
            self._pending = self._decoder.decode(chunk, final=not chunk).encode()
            if not chunk:
                break
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _peek(f: IO[bytes], n: int = 8192) -> tuple[bytes, IO[bytes]]:
    """First bytes of a stream without consuming them, and the stream to read on from.

    Archive members get a buffer of at least `n` bytes; a file must be opened with one (see
    `_iter_top`), else fewer than `n` bytes may come back before its end.
    """
    if not (isinstance(f, io.BufferedReader) and isinstance(f.raw, io.FileIO)):
        f = io.BufferedReader(_Reader(f), buffer_size=max(n, 65536))
    return f.peek(n)[:n], f


def _iter_stream(f: IO[bytes], name: str, source: str, ctx: _Context,
                 top: bool = False) -> Iterator[RawMessage]:
    """Messages of one file or archive member, dispatched on its name and first bytes."""
    lname = name.lower()
    prefix = "" if top else source + ":"
    try:
        if lname.endswith(_TAR_SUFFIXES):
            yield from _iter_tar(f, source, prefix, ctx)
            return
        if lname.endswith(".zip"):
            yield from _iter_nested_zip(f, source, prefix, ctx)
            return
        if lname.endswith(".gz"):
            with gzip.open(f, "rb") as g:
                yield from _iter_stream(g, name[:-3], source, ctx, top)
            return
        head, f = _peek(f)
        if _is_utf16(head):
            head, f = _peek(_Utf8FromUtf16(f))
    except _READ_ERRORS:
        ctx.summary.files += 1
        yield RawMessage(source, source, problem=UNREADABLE)
        return
    kind = _file_kind(lname, head, top)
    ctx.member(kind)
    try:
        yield from _iter_kind(f, kind, lname, source, ctx)
    except _READ_ERRORS:  # damaged compressed data surfaces only as it is read
        yield RawMessage(source, source, problem=UNREADABLE)


def _iter_kind(f: IO[bytes], kind: str, lname: str, source: str,
               ctx: _Context) -> Iterator[RawMessage]:
    """Messages of a stream whose kind (`_file_kind`) is known."""
    if kind == "csv":
        yield from _iter_csv(f, source, ctx)
    elif kind == "jsonl":
        yield from _iter_jsonl(f, source, ctx)
    elif kind == "mbox":
        yield from _iter_mbox(f, source)
    elif kind == "binary":
        yield RawMessage(source, source, problem=BINARY)
    elif kind == "plain text":
        yield from _iter_text_blocks(f, source)
    else:
        data = _read_capped(f)
        if data is None:
            yield RawMessage(source, source, problem=BINARY)
            return
        if lname.endswith(".emlx"):  # Apple Mail: a byte count, the message, then a plist
            count, _, rest = data.partition(b"\n")
            data = rest[:int(count)] if count.strip().isdigit() else rest
        yield _single_message(data, source, source)


def _read_capped(f: IO[bytes]) -> bytes | None:
    data = f.read(MAX_MESSAGE_BYTES + 1)
    return None if len(data) > MAX_MESSAGE_BYTES else data


def _parents(name: str) -> Iterator[str]:
    """The folders above an archive member: `a`, `a/b` for `a/b/c` (and for the folder `a/b/`)."""
    parts = name.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def _in_maildir_tmp(name: str, folders: set[str]) -> bool:
    """Whether member `name` is below a `tmp/` that has a sibling `cur/` or `new/` in `folders`."""
    parts = name.split("/")
    for i in range(len(parts) - 1):
        if parts[i] == "tmp":
            parent = "/".join(parts[:i] + [""])
            if parent + "cur" in folders or parent + "new" in folders:
                return True
    return False


def _iter_folder(root: Path, ctx: _Context) -> Iterator[RawMessage]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=_natural_key)
        if "tmp" in dirnames and ("cur" in dirnames or "new" in dirnames):
            dirnames.remove("tmp")  # a maildir's deliveries still being written
        for fname in sorted(filenames, key=_natural_key):
            full = Path(dirpath) / fname
            rel = full.relative_to(root).as_posix()
            if _skipped_name(rel) or not ctx.wanted(rel) or not full.is_file():
                continue  # is_file: never open a FIFO or socket (it would block)
            if fname.lower().endswith(".zip"):
                yield from _iter_zip(lambda full=full: zipfile.ZipFile(full), rel, rel + ":", ctx)
                continue
            try:
                f = open(full, "rb", buffering=SAMPLE_BYTES)  # see _peek
            except OSError:
                ctx.summary.files += 1
                yield RawMessage(rel, rel, problem=UNREADABLE)
                continue
            with f:
                yield from _iter_stream(f, fname, rel, ctx)


def _iter_tar(f: IO[bytes], source: str, prefix: str,
              ctx: _Context) -> Iterator[RawMessage]:
    """Members of a tar archive, read in one streaming pass ('r|*'): nothing touches disk.

    Member ids are `prefix + member name` (the prefix names a nested archive). A maildir's
    `tmp/` is skipped when its `cur/` or `new/` came earlier, as in a tar of sorted names.
    """
    try:
        tar = tarfile.open(fileobj=f, mode="r|*")
    except _READ_ERRORS:
        ctx.summary.files += 1
        yield RawMessage(source, source, problem=UNREADABLE)
        return
    folders: set[str] = set()
    with tar:
        while True:
            try:
                member = tar.next()
            except _READ_ERRORS:
                ctx.summary.files += 1
                yield RawMessage(source, source, problem=UNREADABLE)
                return
            if member is None:
                return
            tar.members = []  # tarfile keeps every TarInfo; drop them to stay bounded
            folders.update(_parents(member.name + "/" if member.isdir() else member.name))
            if not member.isfile() or _skipped_name(member.name) \
                    or _in_maildir_tmp(member.name, folders):
                continue
            name = prefix + member.name
            if not ctx.wanted(member.name):
                continue
            try:
                mf = tar.extractfile(member)
                if mf is None:
                    continue
                yield from _iter_stream(mf, member.name.rsplit("/", 1)[-1], name, ctx)
            except _READ_ERRORS:
                yield RawMessage(name, name, problem=UNREADABLE)


def _iter_zip(opener: Callable[[], zipfile.ZipFile], source: str, prefix: str,
              ctx: _Context) -> Iterator[RawMessage]:
    """Members of a zip archive, each decompressed as a stream, never extracted.

    A maildir's `tmp/` (a `tmp/` with a sibling `cur/` or `new/`) is skipped.
    """
    try:
        zf = opener()
    except _READ_ERRORS:
        ctx.summary.files += 1
        yield RawMessage(source, source, problem=UNREADABLE)
        return
    with zf:
        infos = zf.infolist()
        folders = {d for info in infos for d in _parents(info.filename)}
        for info in infos:
            if info.is_dir() or _skipped_name(info.filename) or not ctx.wanted(info.filename) \
                    or _in_maildir_tmp(info.filename, folders):
                continue
            name = prefix + info.filename
            try:
                with zf.open(info) as mf:
                    yield from _iter_stream(mf, info.filename.rsplit("/", 1)[-1], name, ctx)
            except (*_READ_ERRORS, RuntimeError, NotImplementedError):
                yield RawMessage(name, name, problem=UNREADABLE)


def _iter_nested_zip(f: IO[bytes], source: str, prefix: str,
                     ctx: _Context) -> Iterator[RawMessage]:
    """A zip inside an archive: zipfile needs to seek, so it is read into memory (capped)."""
    data = f.read(NESTED_ARCHIVE_BYTES + 1)
    if len(data) > NESTED_ARCHIVE_BYTES:
        ctx.summary.files += 1
        yield RawMessage(source, source, problem=UNREADABLE)
        return
    yield from _iter_zip(lambda: zipfile.ZipFile(io.BytesIO(data)), source, prefix, ctx)


def _iter_mbox(f: IO[bytes], source: str) -> Iterator[RawMessage]:
    """Messages of an mbox, split on `From ` envelope lines as they stream past.

    Holds one message at a time (capped at MAX_MESSAGE_BYTES). A line starts a message when it
    is the first line or an envelope `From sender Sat Jun 20 12:00:00 2020` (every mbox writer
    puts the date there), so an unescaped body line "From 9:00 to 10:00..." does not split;
    `>From ` escapes are undone.
    """
    index = 0
    lines: list[bytes] = []
    size = 0
    oversized = False
    started = False

    def emit() -> RawMessage:
        mid = f"{source}#{index}"
        if oversized:
            return RawMessage(mid, source, problem=BINARY)
        subject, body, problem = parse_message(b"".join(lines))
        return RawMessage(mid, source, subject, body, problem)

    try:
        for line in f:
            if line.startswith(b"From ") and (not started or _FROM_LINE_RE.match(line)):
                if started:
                    yield emit()
                    index += 1
                started = True
                lines, size, oversized = [], 0, False
                continue
            if not started:
                if not line.strip():
                    continue
                started = True  # no envelope line: the text is a message of its own
            if oversized:
                continue
            if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
                line = line[1:]
            lines.append(line)
            size += len(line)
            if size > MAX_MESSAGE_BYTES:
                oversized, lines = True, []
    except _READ_ERRORS:
        yield RawMessage(f"{source}#{index}", source, problem=UNREADABLE)
        return
    if started:
        yield emit()


def _iter_text_blocks(f: IO[bytes], source: str) -> Iterator[RawMessage]:
    """A plain text file: one email per block of lines, blocks separated by blank lines."""
    index = 0
    block: list[bytes] = []

    def emit() -> RawMessage:
        text, problem = decode_bytes(b"".join(block))
        return RawMessage(f"{source}#{index}", source, "", text or "", problem)

    for line in f:
        if line.strip():
            block.append(line)
            continue
        if block:
            yield emit()
            index += 1
            block = []
    if block:
        yield emit()


def _raise_csv_limit() -> None:
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


def _pick_columns(names: list[str], source: str,
                  text_column: str | None) -> tuple[int, int | None, int | None]:
    """Indices of the text, subject and id columns among `names` (a CSV header or JSON keys).

    Names match case-insensitively; the text is `text_column` or the first of TEXT_COLUMNS,
    the id the first of ID_COLUMNS. Raises ValueError naming the columns if there is no text.
    """
    lower = [n.strip().lower() for n in names]
    if text_column is not None:
        if text_column.strip().lower() not in lower:
            raise ValueError(f"{source}: no column {text_column!r}; columns: "
                             + ", ".join(names))
        col = lower.index(text_column.strip().lower())
    else:
        found = [c for c in TEXT_COLUMNS if c in lower]
        if not found:
            raise ValueError(f"{source}: no text column among {', '.join(names)}; "
                             "choose one with --text-column")
        col = lower.index(found[0])
    subj_col = lower.index("subject") if "subject" in lower else None
    id_col = next((lower.index(c) for c in ID_COLUMNS if c in lower), None)
    return col, subj_col, id_col


def _cell_message(cell: str, mid: str, source: str, subject: str) -> RawMessage:
    """One email from a CSV cell or JSON string; raw RFC 822 is parsed as mail.

    `subject` (the row's) is used when the cell has none of its own.
    """
    if "\ufffd" in cell and cell.count("\ufffd") > max(3, len(cell) // 100):
        return RawMessage(mid, source, problem=BAD_ENCODING)
    try:
        data = cell.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which a JSON \ud800 escape can make
        data = cell.encode("utf-8", errors="replace")
        cell = data.decode("utf-8")
    msg = _single_message(data, mid, source) if _is_rfc822(data) \
        else RawMessage(mid, source, "", cell)
    if subject and not msg.subject:
        msg = dataclasses.replace(msg, subject=subject)
    return msg


def _iter_csv(f: IO[bytes], source: str, ctx: _Context) -> Iterator[RawMessage]:
    """Rows of a CSV, streamed with the csv module; raw RFC 822 cells are parsed as mail.

    The encoding and the delimiter are decided from the first SAMPLE_BYTES (see
    `_text_encoding` and `_csv_delimiter`).
    """
    _raise_csv_limit()
    sample, f = _peek(f, SAMPLE_BYTES)
    encoding, errors = _text_encoding(sample, complete=len(sample) < SAMPLE_BYTES)
    delimiter = _csv_delimiter(sample.decode(encoding, errors))
    text = io.TextIOWrapper(f, encoding=encoding, errors=errors, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return
    col, subj_col, id_col = _pick_columns(header, source, ctx.text_column)
    row_no = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            row_no += 1
            yield RawMessage(f"{source}#{row_no}", source, problem=MALFORMED)
            continue
        row_no += 1
        mid = f"{source}#{row_no}"
        if id_col is not None and id_col < len(row) and row[id_col].strip():
            mid = f"{source}#{row[id_col].strip()}"
        if col >= len(row):
            yield RawMessage(mid, source, problem=MALFORMED)
            continue
        subject = row[subj_col] if subj_col is not None and subj_col < len(row) else ""
        yield _cell_message(row[col], mid, source, subject)


def _iter_jsonl(f: IO[bytes], source: str, ctx: _Context) -> Iterator[RawMessage]:
    """Objects of a JSON Lines file, one email each, read line by line.

    Fields are chosen like CSV columns, per object; the first object stands for the header:
    if it has no text field, ValueError names its keys. Later lines that are not objects, or
    lack a text field, or whose text is not a string, are MALFORMED; blank lines are skipped.
    Ids are `#` plus the object's id field or else the line number.
    """
    first = True
    for line_no, line in enumerate(f, 1):
        if line_no == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if not line.strip():
            continue
        mid = f"{source}#{line_no}"
        text, problem = decode_bytes(line)  # JSON is UTF-8; cp1252 exports still decode
        if text is None:
            yield RawMessage(mid, source, problem=problem)
            continue
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            yield RawMessage(mid, source, problem=MALFORMED)
            continue
        keys = list(obj)
        try:
            col, subj_col, id_col = _pick_columns(keys, source, ctx.text_column)
        except ValueError:
            if first:
                raise
            yield RawMessage(mid, source, problem=MALFORMED)
            continue
        first = False
        ident = obj[keys[id_col]] if id_col is not None else None
        if isinstance(ident, (str, int, float)) and not isinstance(ident, bool) \
                and str(ident).strip():
            mid = f"{source}#{str(ident).strip()}"
        cell = obj[keys[col]]
        if not isinstance(cell, str):
            yield RawMessage(mid, source, problem=MALFORMED)
            continue
        subject = obj[keys[subj_col]] if subj_col is not None else ""
        yield _cell_message(cell, mid, source, subject if isinstance(subject, str) else "")
