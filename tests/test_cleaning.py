"""Cleaning real mail: what is cut, what is kept, and pre-tokenised text giving the same tokens."""

from __future__ import annotations

import pytest

from autocomplete.corpus.cleaning import (
    DUPLICATE,
    EMPTY,
    TOO_SHORT,
    CleaningSummary,
    CorpusFilter,
    clean,
    clean_body,
    clean_subject,
    detokenize_text,
    html_to_text,
    is_pretokenized,
    looks_like_html,
)
from autocomplete.tokens import tokenize


def test_quoted_lines_are_removed_and_counted():
    result = clean("Sounds good, see you there.\n> Can we meet at noon?\n> Thanks\nBye now.")
    assert result.body == "Sounds good, see you there. Bye now."
    assert result.removed["quoted"] == 2


def test_original_message_block_and_everything_after_is_cut():
    text = ("Laurie,\nWe are still awaiting word from Credit.\nSusan\n"
            "-----Original Message-----\nFrom: Laurie Orchard\nSent: Wednesday\n"
            "To: Bailey, Susan\nSubject: RE: ISDA\n\nSusan, I am back in the office today.")
    body = clean_body(text)
    assert "awaiting word from Credit" in body
    assert "back in the office" not in body and "Original" not in body


def test_outlook_reply_header_without_separator_is_cut():
    text = ("Yes, Tuesday works.\n\nFrom: Bob Smith\nSent: Monday, May 1, 2001 9:00 AM\n"
            "To: Ann\nSubject: lunch\n\nTuesday?")
    assert clean_body(text) == "Yes, Tuesday works."


def test_lotus_notes_reply_block_with_name_and_date_is_cut():
    text = ("i would like to help, but i am away.\nvince\nshirley crenshaw\n"
            "11 / 20 / 2000 11 : 24 am\nto : vince j kaminski / hou / ect @ ect\ncc :\n"
            "subject : file cabinet\nthis cabinet will be on the 32 nd floor .")
    body = clean_body(text)
    assert body.startswith("i would like to help")
    assert "shirley" not in body and "cabinet" not in body


@pytest.mark.parametrize("marker", [
    "---------------------- Forwarded by Susan Bailey/HOU/ECT on 02/21/2000 10:00 AM "
    "---------------------------",
    "- - - - - - - - - - - forwarded by vince j kaminski / hou / ect on 02 / 21 / 2000",
    "Begin forwarded message:",
    "---------- Forwarded message ---------",
])
def test_forwarded_blocks_are_cut(marker):
    result = clean(f"FYI, see below.\n{marker}\nFrom: someone\nThe forwarded text.")
    assert result.body == "FYI, see below."
    assert result.removed["forwarded"] >= 2


@pytest.mark.parametrize("intro", [
    "On Mon, 3 Jun 2024 at 10:00, Ann <ann@example.com> wrote:",
    "On Mon, 3 Jun 2024 at 10:00, Ann <ann@example.com>\nwrote:",
    "at 03:15 pm 7 / 31 / 00 -0500, you wrote :",
])
def test_on_wrote_blocks_are_cut(intro):
    body = clean_body(f"Thanks, that helps.\n\n{intro}\nHere is the old text.\nMore old text.")
    assert body == "Thanks, that helps."


def test_signature_after_dash_dash_is_cut():
    result = clean("See you at five.\n-- \nJohn Smith\nAcme Corp\nhttp://acme.example")
    assert result.body == "See you at five."
    assert result.removed["signature"] == 4  # the "-- " line and three below it


def test_trailing_contact_block_is_cut():
    text = ("Please send the draft ISDA to Jan Wilson.\nThanks again.\n\nSusan S. Bailey\n"
            "Enron North America Corp.\n1400 Smith Street, Suite 3803A\nHouston, Texas 77002\n"
            "Phone: (713) 853-4737\nFax: (713) 646-3490\nEmail: Susan.Bailey@enron.com")
    assert clean_body(text) == "Please send the draft ISDA to Jan Wilson. Thanks again."


def test_short_sign_off_without_contact_lines_is_kept():
    assert clean_body("I will be late.\n\nThanks,\nJohn") == "I will be late.\nThanks, John"


@pytest.mark.parametrize("line", [
    "This e-mail is confidential and may be legally privileged.",
    "The information in this message is intended only for the use of the addressee.",
    "If you have received this email in error, please notify the sender.",
    "this e - mail is the property of enron corp . and may contain confidential and "
    "privileged material",
])
def test_disclaimers_are_cut(line):
    result = clean(f"The contract is signed.\n\n{line}\nPlease delete it.")
    assert result.body == "The contract is signed."
    assert result.removed["disclaimer"] >= 1


def test_non_prose_lines_are_removed():
    text = ("Here are the numbers.\n| a | b | c |\n|---|---|---|\ncol1\tcol2\tcol3\n"
            "TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsuTWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsu\n"
            "https://example.com/some/long/path?x=1\n**********\n=====\n"
            "See https://example.com for details.")
    result = clean(text)
    assert result.body == "Here are the numbers. See https://example.com for details."
    assert result.removed["non-prose"] == 7


def test_leading_header_block_is_dropped():
    text = "From: a@example.com\nTo: b@example.com\nSubject: hi\n\nThe real body."
    result = clean(text)
    assert result.body == "The real body."
    assert result.removed["header"] == 3


def test_whitespace_is_normalised_and_wrapped_lines_joined():
    text = "Hello   there,\r\nthis line was\r\n   hard wrapped.\r\n\r\n\r\n\tNew   paragraph. "
    assert clean_body(text) == "Hello there, this line was hard wrapped.\nNew paragraph."


def test_typographic_quotes_become_ascii_tokens():
    assert tokenize(clean_body("Don\u2019t \u201cworry\u201d \u2014 it\u2019s fine\u2026")) \
        == tokenize("Don't \"worry\" - it's fine...")


def test_nothing_left_is_dropped_with_reason():
    result = clean("> only a quote\n> and more\n-- \nsig")
    assert result.body is None and result.reason == EMPTY
    assert clean_body("   \n\n ") is None


PRETOKENISED = [
    ("rebecca ' s comments .", "Rebecca's comments."),
    ("i don ' t think so , do you ?", "I don't think so, do you?"),
    ("please send the e - mail by 10 : 30 am .", "Please send the e-mail by 10:30 am."),
    ("bp invoiced hpl at $ 4 . 955 for 4 , 250 mmbtu ( see below ) .",
     "BP invoiced HPL at $4.955 for 4,250 mmbtu (see below)."),
    ("we ' ll meet at the \" big \" room ; ok ?", "We'll meet at the \"big\" room; ok?"),
]


@pytest.mark.parametrize("pre, normal", PRETOKENISED)
def test_pretokenised_text_gives_the_same_tokens_as_normal_text(pre, normal):
    assert is_pretokenized(pre) and not is_pretokenized(normal)
    cleaned_pre, cleaned_normal = clean_body(pre), clean_body(normal)
    assert tokenize(cleaned_pre) == tokenize(cleaned_normal) == tokenize(normal)
    assert " ' " not in cleaned_pre and " ." not in cleaned_pre  # reads like normal writing


def test_detokenize_text_keeps_lines_and_tokens():
    text = "hi vince ,\nrebecca ' s e - mail is here .\n_ odd _ underscores _"
    out = detokenize_text(text)
    assert out.split("\n")[:2] == ["hi vince,", "rebecca's e-mail is here."]
    assert tokenize(out) == tokenize(text)


def test_pretokenised_quote_markers_are_recognised():
    text = ("yes , go ahead .\n- - - - - original message - - - - -\nfrom : donna greif\n"
            "sent : friday , february 18 , 2000 10 : 53 am\nto : ed\nsubject : access\nhello")
    assert clean_body(text) == "yes, go ahead."


def test_lower_case_normal_text_is_not_pretokenised():
    assert not is_pretokenized("i'll be there at 10:30, ok?")
    assert not is_pretokenized("no punctuation at all")


def test_clean_subject():
    assert clean_subject("re : guest access to enrononline") == "re: guest access to enrononline"
    assert clean_subject("  RE:  Weekend\n plans ") == "RE: Weekend plans"


def test_html_to_text():
    html = ("<html><head><title>T</title><style>p {color: red}</style></head><body>"
            "<p>Hello&nbsp;Ann &amp; Bob,</p><div>Line one<br>Line two</div>"
            "<script>var x = 1;</script><blockquote>old quoted text</blockquote>"
            "<div class=\"gmail_quote\">On Mon <div>nested quote</div></div>"
            "<table><tr><td>cell one</td><td>cell two</td></tr></table><p>Bye</p></body></html>")
    text = html_to_text(html)
    assert looks_like_html(html) and not looks_like_html("a < b and c > d")
    for kept in ("Hello Ann & Bob,", "Line one\nLine two", "cell one", "Bye"):
        assert kept in text
    for gone in ("color", "var x", "old quoted", "nested quote", "On Mon", "T\n"):
        assert gone not in text


def test_corpus_filter_dedupes_and_counts():
    summary = CleaningSummary(format="test")
    keep = CorpusFilter(summary, min_words=3)
    assert keep.accept("Rebecca's comments are attached.") is not None
    assert keep.accept("rebecca ' s comments are attached .") is None  # same tokens
    assert keep.accept("REBECCA'S   comments are\nattached.") is None
    assert keep.accept("Too short.") is None
    assert keep.accept("> quoted only") is None
    assert keep.accept("A different message entirely.") is not None
    assert summary.kept == 2 and summary.messages == 6
    assert summary.dropped == {DUPLICATE: 2, TOO_SHORT: 1, EMPTY: 1}
    assert summary.removed_lines == {}  # only kept messages count removed lines


def test_summary_table_renders_counts():
    summary = CleaningSummary(format="folder", files=3, messages=3, kept=1)
    summary.dropped.update({DUPLICATE: 1, "binary/attachment-only": 1})
    summary.removed_lines["quoted"] = 4
    summary.members.update({"rfc822": 2, "binary": 1})
    table = summary.table([("words", "12")])
    lines = table.splitlines()
    assert lines[0].split() == ["format", "folder", "(rfc822", "x2,", "binary", "x1)"]
    assert "dropped: duplicate" in table and "lines removed: quoted" in table
    assert lines[-1].split() == ["words", "12"]
    assert "too short" not in table  # zero counts are not listed
    assert str(summary) == summary.table()


def test_prose_mentioning_markers_is_kept():
    text = "Original message was sent on Monday.\nFrom 9:00 to 10:00 we meet.\nThe end."
    assert clean_body(text) == "Original message was sent on Monday. From 9:00 to 10:00 we " \
        "meet. The end."
