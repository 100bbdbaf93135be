"""Private values never reach a model: placeholders before training, none in a completion.

E-mail addresses, URLs, phone numbers and long or account-like numbers become
placeholder tokens in the training text (unless `keep_numbers`); short
numbers stay; completion never suggests a placeholder, whatever the model
predicts; `prepare` says how many of each kind it replaced.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from autocomplete.corpus.normalize import kinds, normalize, normalize_emails, placeholders
from autocomplete.tokens import tokenize

SECRET = "My bank account number is 4817 2263 9051 and the PIN is 7314."


@pytest.mark.parametrize("text,expected,kind", [
    ("mail jo.smith+hr@mail.example.co.uk today", "mail xxemail today", "email"),
    ("write to mailto:ann@enron.com.", "write to xxemail.", "email"),
    ("see https://example.com/reset?t=a1b2, then", "see xxurl, then", "url"),
    ("at www.enron.com/hr.", "at xxurl.", "url"),
    ("call 713-853-1234 now", "call xxphone now", "phone"),
    ("call (713) 853-1234 now", "call xxphone now", "phone"),
    ("call +44 20 7946 0958 now", "call xxphone now", "phone"),
    ("Tel.: 555-0102", "Tel.: xxphone", "phone"),
    ("order #10257 shipped", "order #xxnumber shipped", "number"),
    ("ref 1234567890123", "ref xxnumber", "number"),
    ("card 1234-5678-9012-3456 expires", "card xxnumber expires", "number"),
    ("account 4817 2263 9051 is", "account xxnumber is", "number"),
    ("SSN 123-45-6789.", "SSN xxnumber.", "number"),
    ("the PIN is 7314.", "the PIN is xxnumber.", "number"),
    ("account number: 042", "account number: xxnumber", "number"),
    ("ID12345 and x", "xxnumber and x", "number"),
])
def test_each_kind_becomes_its_placeholder(text, expected, kind):
    new, counts = normalize(text)
    assert new == expected
    assert counts == Counter({kind: 1})


@pytest.mark.parametrize("text", [
    "Pay $121.50 by the 11th at 4 pm.",
    "On 2024-01-15 at 10:30, 3/4 of the team met in room 12.",
    "The 2019-2020 budget is $36,000, not $1,234,567 or $100000.",
    "Invoice INV-4095, ticket #7744, pi is 3.14159, about 12.5% or 4,250 units.",
    "We need 2 flights on May 3rd and 10 rooms for 3 nights.",
])
def test_short_numbers_dates_and_amounts_stay(text):
    assert normalize(text) == (text, Counter())


def test_counts_and_single_tokens():
    new, counts = normalize(SECRET + " Mail ann@x.org or bob@y.com, call 713-853-1234 or "
                            "see http://a.io/b.")
    assert counts == Counter({"number": 2, "email": 2, "phone": 1, "url": 1})
    assert new.startswith("My bank account number is xxnumber and the PIN is xxnumber.")
    assert set(kinds()) == {"email", "url", "phone", "number"}
    for token in placeholders():
        assert tokenize(token) == [token]
    # a placeholder next to letters or digits is spaced off, so it stays one token
    glued, _ = normalize("id1234567890x, tel:5550102")
    assert "xxnumber" in tokenize(glued)


def test_normalize_emails_counts_over_a_corpus_and_moves_dependencies():
    body = "Call 713-853-1234 today. Tomorrow I will need to take a loan."
    tokens = tokenize(body)
    dep = {"kind": "tense", "cue": "Tomorrow", "target": "will",
           "cue_token": tokens.index("tomorrow"), "target_token": tokens.index("will"),
           "distance": 2}
    df = pd.DataFrame({"id": ["a", "b"], "body": [body, "Nothing to see."],
                       "deps": [[dep], []]})
    out, counts = normalize_emails(df)
    assert counts == Counter({"phone": 1})
    assert out["body"].tolist() == ["Call xxphone today. Tomorrow I will need to take a loan.",
                                    "Nothing to see."]
    assert df["body"].iloc[0] == body  # the input is left alone
    moved = out["deps"].iloc[0][0]
    new_tokens = tokenize(out["body"].iloc[0])
    assert new_tokens[moved["cue_token"]] == "tomorrow"
    assert new_tokens[moved["target_token"]] == "will" and moved["distance"] == 2
    assert moved["cue_token"] == dep["cue_token"] - 4  # "713 - 853 - 1234": 5 tokens -> 1

