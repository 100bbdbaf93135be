"""Loading real mail: every format, archives read in place, bad files counted, the CLI."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import os
import tarfile
import types
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autocomplete.commands.prepare import prepare
from autocomplete.corpus.cleaning import (
    BAD_ENCODING,
    BINARY,
    DUPLICATE,
    MALFORMED,
    UNREADABLE,
    CleaningSummary,
    clean,
)
from autocomplete.corpus.loaders import (
    RawMessage,
    decode_bytes,
    detect_format,
    iter_messages,
    load_corpus,
)
from autocomplete.tokens import tokenize

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
COLUMNS = ["id", "subject", "body", "deps", "source"]


def rfc822(subject: str, body: str, *, sender: str = "ann@example.com",
           headers: str = "Content-Type: text/plain; charset=us-ascii\n") -> str:
    return (f"Message-ID: <{abs(hash(subject + body))}@example.com>\n"
            f"Date: Mon, 3 Jun 2024 10:00:00 +0000\nFrom: {sender}\nTo: bob@example.com\n"
            f"Subject: {subject}\nMime-Version: 1.0\n{headers}\n{body}\n")


MESSAGES = [
    ("Lunch", "Can we move lunch to Tuesday?\n\nThanks,\nAnn"),
    ("RE: ISDA", "Laurie,\nWe are still waiting for Credit.\n-----Original Message-----\n"
                 "From: Laurie\nSent: Monday\nTo: Susan\nSubject: ISDA\n\nAny news?"),
    ("Report", "The quarterly report is attached for your review."),
]


def load(path, **kw):
    return load_corpus(path, progress=False, **kw)


def bodies(df) -> list[str]:
    return df["body"].tolist()


def snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def enron_spam_bytes(subject: str, body: str) -> bytes:
    return (f"Subject: {subject}\n{body}").replace("\n", "\r\n").encode()


# ---------------------------------------------------------------------------
# Formats


def check_three(df, summary):
    assert list(df.columns) == COLUMNS
    assert len(df) == 3 and summary.kept == 3 and summary.messages == 3
    assert set(df["subject"]) == {"Lunch", "RE: ISDA", "Report"}
    assert all(deps == [] for deps in df["deps"])
    joined = " ".join(bodies(df))
    assert "waiting for Credit" in joined and "Any news" not in joined
    assert df["id"].is_unique


def test_mbox(tmp_path):
    text = "".join(f"From ann@example.com Mon Jun  3 10:0{i}:00 2024\n" + rfc822(s, b) + "\n"
                   for i, (s, b) in enumerate(MESSAGES))
    text = text.replace("The quarterly", "From the desk of Ann: the quarterly")
    text = text.replace("Thanks,", "From 9:00 to 10:30 on Mon 3 Jun I am out.\nThanks,")
    escaped = text.replace("\nFrom the desk", "\n>From the desk")
    path = tmp_path / "Inbox.mbox"
    path.write_text(escaped)
    df, summary = load(path)
    check_three(df, summary)
    assert summary.format == "mbox"
    assert df["id"].tolist() == ["Inbox.mbox#0", "Inbox.mbox#1", "Inbox.mbox#2"]
    assert "From the desk of Ann: the quarterly" in bodies(df)[2]
    # Thunderbird: no extension, detected by the first line; unescaped From lines don't split
    (tmp_path / "Inbox").write_text(text)
    df2, _ = load(tmp_path / "Inbox")
    assert len(df2) == 3 and detect_format(tmp_path / "Inbox") == "mbox"
    assert "From 9:00 to 10:30 on Mon 3 Jun I am out." in df2["body"][0]


def test_maildir_with_enron_names(tmp_path):
    root = tmp_path / "maildir" / "bailey-s"
    for i, (s, b) in enumerate(MESSAGES):
        folder = root / ("inbox" if i < 2 else "sent_items")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{[2, 10, 1][i]}.").write_text(rfc822(s, b))
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "md" / sub).mkdir(parents=True)
    (tmp_path / "md" / "cur" / "1712345678.M1P2.host:2,S").write_text(rfc822(*MESSAGES[0]))
    (tmp_path / "md" / "new" / "1712345679.M2P2.host").write_text(rfc822(*MESSAGES[2]))
    (tmp_path / "md" / ".hidden").write_text("junk")
    df, summary = load(tmp_path / "maildir")
    check_three(df, summary)
    assert summary.format == "folder" and summary.members == {"rfc822": 3}
    assert df["id"].tolist() == [
        "bailey-s/inbox/2.", "bailey-s/inbox/10.", "bailey-s/sent_items/1."]
    df, summary = load(tmp_path / "md")
    assert len(df) == 2 and summary.files == 2


def test_maildir_tmp_is_not_read(tmp_path):
    members = {
        "md/cur/1712345678.M1P2.host:2,S": rfc822(*MESSAGES[0]).encode(),
        "md/new/1712345679.M2P2.host": rfc822(*MESSAGES[2]).encode(),
        "md/tmp/1712345680.M3P2.host": rfc822("Half", "A delivery still being wri").encode(),
        "notes/tmp/keep.eml": rfc822("Kept", "Not in a maildir, so this is read.").encode(),
    }
    root = tmp_path / "mail"
    for name, data in members.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    expected = {"md/cur/1712345678.M1P2.host:2,S", "md/new/1712345679.M2P2.host",
                "notes/tmp/keep.eml"}
    df, summary = load(root)
    assert set(df["id"]) == expected and summary.files == 3
    # a zip lists every member up front; this tar has cur/ and new/ before tmp/, as sorted tars do
    for archive in (make_zip(tmp_path / "mail.zip", members),
                    make_tar(tmp_path / "mail.tgz", members)):
        df, summary = load(archive)
        assert set(df["id"]) == expected and summary.files == 3


def test_folder_of_eml(tmp_path):
    for i, (s, b) in enumerate(MESSAGES):
        (tmp_path / f"m{i}.eml").write_bytes(rfc822(s, b).replace("\n", "\r\n").encode())
    df, summary = load(tmp_path)
    check_three(df, summary)
    msg = rfc822("Apple", "Hello from Apple Mail.").encode()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "1.emlx").write_bytes(b"%d\n%s<?xml version='1.0'?><plist/>"
                                              % (len(msg), msg))
    df, _ = load(tmp_path / "sub")
    assert df["body"].tolist() == ["Hello from Apple Mail."]


def test_enron_spam_txt_with_crlf(tmp_path):
    ham = tmp_path / "enron1" / "ham"
    ham.mkdir(parents=True)
    (ham / "0001.1999-12-10.farmer.ham.txt").write_bytes(enron_spam_bytes(
        "re : rebecca ' s comments", "daren ,\nplease send the e - mail by 10 : 30 .\nthanks ."))
    (ham / "0002.1999-12-10.farmer.ham.txt").write_bytes(enron_spam_bytes(
        "meeting", "i don ' t think we ' ll make it ."))
    df, summary = load(tmp_path)
    assert summary.members == {"subject+body text": 2}
    assert df["subject"].tolist() == ["re: rebecca's comments", "meeting"]
    assert df["body"][0] == "daren, please send the e-mail by 10:30. thanks."
    assert tokenize(df["body"][0]) == tokenize("Daren,\nPlease send the e-mail by 10:30.\nThanks.")
    assert "\r" not in "".join(bodies(df))


def test_csv_with_message_column_of_raw_mail(tmp_path):
    path = tmp_path / "emails.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "message"])
        for i, (s, b) in enumerate(MESSAGES):
            w.writerow([f"allen-p/_sent_mail/{i + 1}.", rfc822(s, b)])
    df, summary = load(path)
    check_three(df, summary)
    assert summary.format == "csv"
    assert df["id"][0] == "emails.csv#allen-p/_sent_mail/1."


def test_csv_with_a_text_column(tmp_path):
    path = tmp_path / "mail.csv"
    path.write_text('Subject,Body,Note\n"Hi","Line one\nline two, with a comma.",x\n'
                    '"Bye","See you tomorrow.",y\n')
    df, _ = load(path)
    assert bodies(df) == ["Line one line two, with a comma.", "See you tomorrow."]
    assert df["subject"].tolist() == ["Hi", "Bye"]
    df, _ = load(path, text_column="NOTE")
    assert bodies(df) == ["x", "y"]
    with pytest.raises(ValueError, match="no column 'missing'"):
        load(path, text_column="missing")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="text column"):
        load(tmp_path / "other.csv")


def test_csv_encoding_is_detected(tmp_path):
    text = "It’s the “best” deal – only 5 € a month, s’il vous plaît."
    path = tmp_path / "excel.csv"  # Excel's "CSV" outside UTF-8 is cp1252
    path.write_bytes(f'Subject,Body\nCafé,"{text}"\n'.encode("cp1252")
                     + b"Odd,Byte \x81 that cp1252 leaves undefined.\n")
    raw = [(m.subject, m.body, m.problem) for m in iter_messages(path)]
    assert raw == [("Café", text, None), ("Odd", "Byte \x81 that cp1252 leaves undefined.", None)]
    df, summary = load(path)
    assert summary.kept == 2 and df["subject"][0] == "Café" and "5 € a month" in df["body"][0]
    # UTF-8, with a BOM or with a character cut by the end of the 64 KiB sample, stays UTF-8
    (tmp_path / "bom.csv").write_bytes("\ufeffText\nnaïve café\n".encode())
    assert [m.body for m in iter_messages(tmp_path / "bom.csv")] == ["naïve café"]
    head = b"text\n" + b"a" * (64 * 1024 - 6)
    (tmp_path / "long.csv").write_bytes(head + "€ and more\n".encode())
    assert [m.body[-10:] for m in iter_messages(tmp_path / "long.csv")] == ["€ and more"]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_delimiter_is_detected(tmp_path, delimiter):
    path = tmp_path / "semicolon.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(["id", "subject", "message"])
        w.writerow(["7", "Lunch", "Can we meet at 12, or at 1; your call | Ann?"])
        w.writerow(["8", "Report", "The report is attached."])
    df, _ = load(path)
    assert bodies(df) == ["Can we meet at 12, or at 1; your call | Ann?", "The report is attached."]
    assert df["id"].tolist() == ["semicolon.csv#7", "semicolon.csv#8"]
    assert df["subject"].tolist() == ["Lunch", "Report"]
    # delimiters inside a quoted header name do not count
    (tmp_path / "comma.csv").write_text('"notes; a|b",text\nx,Hello there.\n')
    assert bodies(load(tmp_path / "comma.csv")[0]) == ["Hello there."]


def test_tsv_is_read_as_csv(tmp_path):
    path = tmp_path / "mail.tsv"
    path.write_text("subject\tbody\nLunch\tCan we meet at 12, or at 1?\n"
                    "Report\tThe report is attached.\n")
    df, summary = load(path)
    assert summary.format == "csv"
    assert bodies(df) == ["Can we meet at 12, or at 1?", "The report is attached."]
    assert df["subject"].tolist() == ["Lunch", "Report"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_files_are_read_as_text(tmp_path, encoding):
    """Windows tools save "Unicode text" as UTF-16 with a byte-order mark."""
    def write(path: Path, text: str) -> None:
        bom = "" if encoding == "utf-16" else "\ufeff"  # the plain codec writes its own
        path.write_bytes((bom + text).encode(encoding))

    blocks = "Crème brûlée for dessert on Friday.\n\nThe report is attached.\n"
    write(tmp_path / "notes.txt", blocks)
    assert detect_format(tmp_path / "notes.txt") == "plain text"
    assert bodies(load(tmp_path / "notes.txt")[0]) == ["Crème brûlée for dessert on Friday.",
                                                       "The report is attached."]
    (tmp_path / "notes.txt.gz").write_bytes(gzip.compress((tmp_path / "notes.txt").read_bytes()))
    assert detect_format(tmp_path / "notes.txt.gz") == "gzip plain text"
    assert len(load(tmp_path / "notes.txt.gz")[0]) == 2
    write(tmp_path / "mail.csv", "text\n\"naïve, café\"\n")
    assert bodies(load(tmp_path / "mail.csv")[0]) == ["naïve, café"]
    folder = tmp_path / "inbox"
    folder.mkdir()
    write(folder / "1.eml", rfc822("Budget", "The budget meeting moved to Friday."))
    df, summary = load(folder)
    assert bodies(df) == ["The budget meeting moved to Friday."]
    assert df["subject"].tolist() == ["Budget"]


JSONL_LINES = [
    json.dumps({"id": 7, "subject": "Lunch", "text": "Can we move lunch to Tuesday?"}),
    "",
    json.dumps({"message": rfc822("Budget", "The budget meeting moved to Friday.")}),
    "not json at all",
    json.dumps(["a", "list"]),
    json.dumps({"id": "x", "text": 42}),
    json.dumps({"file": "a/b.eml", "Body": "Crème brûlée for dessert."},
               ensure_ascii=False),
]


def test_jsonl(tmp_path):
    data = "\n".join(JSONL_LINES).encode() + b"\n"
    (tmp_path / "mail.jsonl").write_bytes(data)
    (tmp_path / "mail.jsonl.gz").write_bytes(gzip.compress(data))
    for name in ("mail.jsonl", "mail.jsonl.gz"):
        df, summary = load(tmp_path / name)
        assert summary.format == ("gzip jsonl" if name.endswith(".gz") else "jsonl")
        assert bodies(df) == ["Can we move lunch to Tuesday?",
                              "The budget meeting moved to Friday.",
                              "Crème brûlée for dessert."]
        assert df["subject"].tolist() == ["Lunch", "Budget", ""]
        assert df["id"].tolist() == [f"{name}#7", f"{name}#3", f"{name}#a/b.eml"]
        assert summary.messages == 6 and summary.dropped == {MALFORMED: 3}
    # in a folder (where .json index files stay skipped) and in an archive
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "mail.ndjson").write_bytes(data)
    (folder / "index.json").write_text(json.dumps({"text": "An index, not mail."}))
    df, summary = load(folder)
    assert len(df) == 3 and summary.members == {"jsonl": 1}
    df, _ = load(make_zip(tmp_path / "mail.zip", {"a/mail.jsonl": data}))
    assert df["id"].tolist() == ["a/mail.jsonl#7", "a/mail.jsonl#3", "a/mail.jsonl#a/b.eml"]


def test_jsonl_text_column(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"subject": "Hi", "body": "The body.", "note": "The note."}\n'
                    '{"subject": "Bye", "body": "Another body."}\n')
    df, summary = load(path, text_column="NOTE")
    assert bodies(df) == ["The note."] and summary.dropped == {MALFORMED: 1}
    with pytest.raises(ValueError, match="no column 'missing'; columns: subject, body, note"):
        load(path, text_column="missing")
    (tmp_path / "keys.jsonl").write_text('{"a": 1, "b": "two"}\n')
    with pytest.raises(ValueError, match="no text column among a, b"):
        load(tmp_path / "keys.jsonl")


def test_plain_text_blocks(tmp_path):
    path = tmp_path / "mail.txt"
    path.write_text("First email,\nsecond line.\n\n\nSecond email.\n  \nThird email.\n")
    df, summary = load(path)
    assert summary.format == "plain text"
    assert bodies(df) == ["First email, second line.", "Second email.", "Third email."]
    assert df["id"].tolist() == ["mail.txt#0", "mail.txt#1", "mail.txt#2"]


def test_gzipped_mbox(tmp_path):
    mbox = "".join("From x@y Mon Jun  3 10:00:00 2024\n" + rfc822(s, b) for s, b in MESSAGES)
    (tmp_path / "all.mbox.gz").write_bytes(gzip.compress(mbox.encode()))
    df, summary = load(tmp_path / "all.mbox.gz")
    check_three(df, summary)
    assert summary.format == "gzip mbox"


# ---------------------------------------------------------------------------
# Archives, read without unpacking


def archive_members() -> dict[str, bytes]:
    mbox = "".join("From x@y Mon Jun  3 10:00:00 2024\n" + rfc822(s, b) for s, b in MESSAGES)
    return {
        "enron1/ham/0001.txt": enron_spam_bytes("hello", "i ' ll call you at 10 : 30 ."),
        "enron1/ham/0002.txt": enron_spam_bytes("dup", "I'll call you at 10:30."),
        "enron2/ham/0003.txt": enron_spam_bytes("other", "see the attached report ."),
        "maildir/inbox/1.": rfc822("Budget", "The budget meeting moved to Friday.").encode(),
        "box/Inbox.mbox": mbox.encode(),
        "sheet.csv": b"text\nA row of text from the spreadsheet.\n",
    }


def make_tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("name", ["mail.tar.gz", "mail.tgz", "mail.zip", "mail.tar"])
def test_archives_are_read_in_place(tmp_path, monkeypatch, name):
    src = tmp_path / "src"
    src.mkdir()
    path = src / name
    if name.endswith(".zip"):
        make_zip(path, archive_members())
    else:
        make_tar(path, archive_members(), "w" if name.endswith(".tar") else "w:gz")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    df, summary = load(path)
    assert snapshot(tmp_path) == before  # nothing unpacked anywhere under tmp_path
    assert not any(work.iterdir())
    assert summary.messages == 8 and summary.kept == 7 and summary.dropped == {DUPLICATE: 1}
    assert summary.members == {"subject+body text": 3, "rfc822": 1, "mbox": 1, "csv": 1}
    ids = df["id"].tolist()
    assert ids[:2] == ["enron1/ham/0001.txt", "enron2/ham/0003.txt"]
    assert "box/Inbox.mbox#2" in ids and "sheet.csv#1" in ids
    assert "The budget meeting moved to Friday." in bodies(df)
    assert "archive" in summary.format


def test_archive_include_globs_and_limit(tmp_path):
    path = make_tar(tmp_path / "mail.tgz", archive_members())
    df, summary = load(path, include=["enron1/*", "enron2"])
    assert df["id"].tolist() == ["enron1/ham/0001.txt", "enron2/ham/0003.txt"]
    assert summary.files == 3
    df, _ = load(make_zip(tmp_path / "mail.zip", archive_members()), include=["box/*"])
    assert len(df) == 3
    df, summary = load(path, limit=2)
    assert len(df) == 2 and summary.kept == 2


def test_archive_inside_folder_and_nested(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    make_zip(folder / "inner.zip", {"a/1.eml": rfc822("Hi", "Zipped hello.").encode()})
    nested = make_zip(tmp_path / "nested.zip", {"a/1.eml": rfc822("Hi", "Nested hello.").encode()})
    make_tar(folder / "o.tar.gz", {"deep/nested.zip": nested.read_bytes()})
    df, summary = load(folder)
    assert dict(zip(df["id"], df["body"], strict=True)) == {
        "inner.zip:a/1.eml": "Zipped hello.",
        "o.tar.gz:deep/nested.zip:a/1.eml": "Nested hello.",
    }
    assert summary.files == 2


# ---------------------------------------------------------------------------
# MIME, charsets, HTML


def test_charsets_and_transfer_encodings(tmp_path):
    latin = rfc822("Caf\xe9", "", headers="Content-Type: text/plain; charset=iso-8859-1\n")
    (tmp_path / "latin.eml").write_bytes(
        latin.encode("latin-1") + "Un caf\xe9 cr\xe8me, s'il vous plait.".encode("latin-1"))
    b64 = base64.encodebytes("Grüße aus Zürich, bis bald.".encode()).decode()
    (tmp_path / "b64.eml").write_text(rfc822(
        "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", b64,
        headers="Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n"))
    (tmp_path / "qp.eml").write_text(rfc822(
        "qp", "Na=C3=AFve r=C3=A9sum=C3=A9 attached, a very long line that is soft=\n-wrapped.",
        headers="Content-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: quoted-printable\n"))
    (tmp_path / "cp1252.eml").write_bytes(rfc822(
        "smart", "", headers="Content-Type: text/plain; charset=iso-8859-1\n").encode()
        + b"It\x92s the \x93best\x94 deal \x96 really.")
    (tmp_path / "mislabelled.eml").write_bytes(rfc822("utf8", "").encode()
                                              + "Déjà vu, naïve café.".encode())
    df, summary = load(tmp_path)
    got = dict(zip(df["id"], df["body"], strict=True))
    assert got["latin.eml"] == "Un café crème, s'il vous plait."
    assert got["b64.eml"] == "Grüße aus Zürich, bis bald."
    assert got["qp.eml"] == "Naïve résumé attached, a very long line that is soft-wrapped."
    assert got["cp1252.eml"] == "It's the \"best\" deal - really."
    assert got["mislabelled.eml"] == "Déjà vu, naïve café."
    assert dict(zip(df["id"], df["subject"], strict=True))["b64.eml"] == "Grüße"
    assert summary.kept == 5


def test_decode_bytes_fallbacks():
    assert decode_bytes("café".encode("latin-1"), "utf-8") == ("café", None)  # cp1252 fallback
    assert decode_bytes("café".encode(), "us-ascii") == ("café", None)
    assert decode_bytes(b"abc", "x-unknown-charset") == ("abc", None)
    assert decode_bytes(b"ok " + b"\x81\x8d\x90\x9d" * 10, "utf-8") == (None, BAD_ENCODING)


def test_html_and_multipart(tmp_path):
    (tmp_path / "html.eml").write_text(rfc822(
        "html", "<html><body><p>Hello <b>team</b>,</p><p>Meeting at 3&nbsp;pm.</p>"
                "<blockquote>old</blockquote></body></html>",
        headers="Content-Type: text/html; charset=utf-8\n"))
    alternative = (
        'Content-Type: multipart/alternative; boundary="XX"\n')
    (tmp_path / "alt.eml").write_text(rfc822(
        "alt", "--XX\nContent-Type: text/plain; charset=utf-8\n\nPlain version wins.\n"
               "--XX\nContent-Type: text/html; charset=utf-8\n\n<p>HTML version</p>\n--XX--\n",
        headers=alternative))
    (tmp_path / "mixed.eml").write_text(rfc822(
        "mixed", '--M\nContent-Type: text/plain\n\nSee the attached file.\n--M\n'
                 'Content-Type: application/pdf\n'
                 'Content-Disposition: attachment; filename="a.pdf"\n'
                 "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--M--\n",
        headers='Content-Type: multipart/mixed; boundary="M"\n'))
    (tmp_path / "plain_html.eml").write_text(rfc822(
        "enron html", "<html>\n<body>\n<table><tr><td><p>Save 35% at resorts.</p></td></tr>"
                      "</table>\n</body></html>"))
    df, summary = load(tmp_path)
    got = dict(zip(df["id"], df["body"], strict=True))
    assert got == {"alt.eml": "Plain version wins.", "html.eml": "Hello team,\nMeeting at 3 pm.",
                   "mixed.eml": "See the attached file.", "plain_html.eml": "Save 35% at resorts."}


# ---------------------------------------------------------------------------
# Bad input is counted, never raised


def test_bad_files_are_counted_not_raised(tmp_path):
    good = rfc822("ok", "This one is fine.")
    (tmp_path / "good.eml").write_text(good)
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "truncated.eml").write_text(good[:60])
    (tmp_path / "no_close.eml").write_text(rfc822(
        "cut", "--B\nContent-Type: text/plain\n\nHalf a messa",
        headers='Content-Type: multipart/mixed; boundary="B"\n'))
    (tmp_path / "bad_b64.eml").write_text(rfc822(
        "b64", "SGVsbG8gd29ybGQgaGVsbG8gd29y\nbGQ",
        headers="Content-Type: text/plain\nContent-Transfer-Encoding: base64\n"))
    (tmp_path / "undecodable.eml").write_bytes(
        rfc822("bad", "", headers="Content-Type: text/plain; charset=utf-8\n").encode()
        + b"\x81\x8d\x90\x9d\xff" * 30)
    (tmp_path / "attachment_only.eml").write_text(rfc822(
        "att", "JVBERi0xLjQK", headers="Content-Type: application/pdf\n"
                                     "Content-Transfer-Encoding: base64\n"))
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (tmp_path / "broken.tar.gz").write_bytes(b"\x1f\x8b\x08 not gzip either")
    (tmp_path / "empty.eml").write_text(rfc822("empty", "> only quoted text"))
    unreadable = tmp_path / "locked.eml"
    unreadable.write_text(good.replace("fine", "locked"))
    unreadable.chmod(0)
    locked = not os.access(unreadable, os.R_OK)
    try:
        df, summary = load(tmp_path)
    finally:
        unreadable.chmod(0o644)
    assert bodies(df) == ["This one is fine."] + ([] if locked else ["This one is locked."])
    d = summary.dropped
    assert d[BINARY] == 2 and d[MALFORMED] == 3 and d[BAD_ENCODING] == 1
    assert d[UNREADABLE] == 2 + locked and d["empty after cleaning"] == 1
    assert summary.messages == summary.kept + sum(d.values()) == 11
    table = summary.table()
    for reason in ("binary/attachment-only", "malformed", "bad encoding", "unreadable"):
        assert f"dropped: {reason}" in table


def _damaged_gzip(text: str) -> bytes:
    """A gzip file whose deflate data is damaged: reading it raises zlib.error, not OSError."""
    data = bytearray(gzip.compress(text.encode() * 20))
    for i in range(12, 40):
        data[i] ^= 0xFF
    return bytes(data)


def test_damaged_compressed_data_is_counted_not_raised(tmp_path):
    good = rfc822("ok", "This one is fine.")
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "good.eml").write_text(good)
    (folder / "bad.mbox.gz").write_bytes(_damaged_gzip("From a@b Mon Jan  1 00:00:00 2001\n"
                                                       + good))
    df, summary = load(folder)
    assert bodies(df) == ["This one is fine."] and summary.dropped[UNREADABLE] == 1

    archive = tmp_path / "mail.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("good.eml", good.replace("fine", "fine too"))
        zf.writestr("inner/bad.txt.gz", _damaged_gzip("Some text of an email. "))
    df, summary = load(archive)
    assert bodies(df) == ["This one is fine too."] and summary.dropped[UNREADABLE] == 1

    result = CliRunner().invoke(prepare, [str(folder / "bad.mbox.gz")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "dropped: unreadable" in result.output
    assert result.output.strip().endswith("no usable email: every message was dropped "
                                          "(the reasons above)")


def test_duplicates_across_files(tmp_path):
    (tmp_path / "a.eml").write_text(rfc822("x", "Please call me back today."))
    (tmp_path / "b.eml").write_text(rfc822("y", "please call me   back\ntoday ."))
    (tmp_path / "c.eml").write_text(rfc822("z", "Short."))
    df, summary = load(tmp_path, min_words=2)
    assert df["id"].tolist() == ["a.eml"]
    assert summary.dropped == {DUPLICATE: 1, "too short": 1}


def test_iter_messages_streams_raw_messages(tmp_path):
    (tmp_path / "a.eml").write_text(rfc822("Hi", "Body text.\n> quoted"))
    summary = CleaningSummary()
    stream = iter_messages(tmp_path, summary=summary)
    assert isinstance(stream, types.GeneratorType)
    first = next(stream)
    assert isinstance(first, RawMessage) and first.problem is None
    assert first.subject == "Hi" and "> quoted" in first.body  # decoded, not yet cleaned
    assert summary.format == "folder" and summary.files == 1


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        iter_messages(tmp_path / "nope")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200))
    with pytest.raises(ValueError, match="unknown format"):
        detect_format(tmp_path / "photo.jpg")


# ---------------------------------------------------------------------------
# The prepare command


def test_prepare_command(tmp_path):
    for i, (s, b) in enumerate(MESSAGES):
        (tmp_path / f"{i}.eml").write_text(rfc822(s, b))
    result = CliRunner().invoke(prepare, [str(tmp_path), "--show", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for label in ("format", "folder", "messages", "kept", "words", "distinct tokens",
                  "median words per email", "Subject:"):
        assert label in out
    assert out.count("--- ") == 1


def test_prepare_errors_are_one_liners(tmp_path):
    result = CliRunner().invoke(prepare, [str(tmp_path / "missing")])
    assert result.exit_code == 1
    missing = tmp_path / "missing"
    assert result.output.strip().splitlines() == [f"Error: no such file or folder: {missing}"]
    (tmp_path / "x.bin").write_bytes(bytes(range(32)) * 10)
    result = CliRunner().invoke(prepare, [str(tmp_path / "x.bin")])
    assert result.exit_code == 1 and "unknown format" in result.output
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    result = CliRunner().invoke(prepare, [str(tmp_path / "t.csv"), "--no-progress"])
    assert result.exit_code == 1 and "--text-column" in result.output
    csv_path = tmp_path / "t.csv"
    assert result.output.startswith(f"Error: {csv_path}: no text column")  # named once
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(prepare, [str(tmp_path / "empty"), "--no-progress"])
    assert result.exit_code == 1 and "no email found" in result.output


# ---------------------------------------------------------------------------
# The real corpora in ../shared/corpora, when present


def corpus(name: str) -> Path:
    path = CORPORA / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def test_real_enron_maildir():
    df, summary = load(corpus("enron-maildir-bailey.tar.gz"))
    assert summary.messages == 478 and summary.members == {"rfc822": 478}
    assert 350 < len(df) < 478
    text = "\n".join(bodies(df))
    for leftover in ("-----Original Message-----", "X-Folder:", "Message-ID:", "<html",
                     "Forwarded by", "\n>"):
        assert leftover not in text
    assert df["id"].str.startswith("maildir/bailey-s/").all()


def test_real_enron_spam_one_folder_gives_normal_tokens():
    path = corpus("enron-spam-ham.tar.gz")
    df, summary = load(path, include=["enron4/*"])
    assert summary.messages == 1500 and df["id"].str.startswith("enron4/ham/").all()
    assert len(df) > 1200
    assert not df["body"].str.contains(" ' s ", regex=False).any()
    assert df["body"].str.contains(r" [.,] ", regex=True).mean() < 0.01  # "web site at ." (sic)
    # where cleaning cut nothing, the de-tokenised body has exactly the original tokens
    checked = 0
    for msg in iter_messages(path, include=["enron4/ham/00*"]):
        result = clean(msg.body)
        if result.body is not None and not result.removed:
            assert tokenize(result.body) == tokenize(msg.body)
            checked += 1
    assert checked > 20


def test_real_enron_spam_limit():
    df, _ = load(corpus("enron-spam-ham.tar.gz"), include=["enron2/*"], limit=50)
    assert len(df) == 50 and df["id"].str.startswith("enron2/").all()
