"""The generator's package data: the template files, their slot values and the filling of
{slot} placeholders.

Every family of sentence templates and slot values is one JSON file under
autocomplete/corpus/templates/, read once (`load_templates`). `fill` replaces
"{first}", "{date}", ... with values drawn from a `random.Random`, so the text
it makes depends on the seed alone.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

# ---------------------------------------------------------------------------
# Sentence templates and slot values are package data: one JSON file per family
# under autocomplete/corpus/templates/. The random stream picks items by index,
# so the order of every list (and its repeats, which act as weights) is part of
# the corpus: any edit there changes the output for every seed.


@functools.cache
def load_templates(name: str) -> Any:
    """The parsed package data file `templates/<name>.json` (cached: do not mutate it)."""
    path = resources.files("autocomplete.corpus") / "templates" / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def tuples(table: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(values) for key, values in table.items()}


# ---------------------------------------------------------------------------
# Slot values: "{first}" in a template is filled with a random first name, and
# so on for every slot named in templates/slot_values.json. Computed slots
# (dates, amounts, numbers) are in SLOTS below.

SLOT_VALUES: dict[str, tuple[str, ...]] = tuples(load_templates("slot_values"))
FIRST_NAMES: tuple[str, ...] = SLOT_VALUES["first"]
SURNAMES: tuple[str, ...] = SLOT_VALUES["last"]
HONORIFICS: tuple[str, ...] = SLOT_VALUES["honorific"]
WEEKDAYS: tuple[str, ...] = SLOT_VALUES["weekday"]
MONTHS: tuple[str, ...] = SLOT_VALUES["month"]
CITIES: tuple[str, ...] = SLOT_VALUES["city"]
COMPANIES: tuple[str, ...] = SLOT_VALUES["company"]
DEPARTMENTS: tuple[str, ...] = SLOT_VALUES["dept"]
TITLES: tuple[str, ...] = SLOT_VALUES["title"]


def _ordinal(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _date(rng: random.Random) -> str:
    day = rng.randint(1, 28)
    form = rng.randrange(6)
    if form == 0:
        return f"{rng.choice(WEEKDAYS)}, {rng.choice(MONTHS)} {day}"
    if form == 1:
        return f"{rng.choice(MONTHS)} {day}"
    if form == 2:
        return f"the {_ordinal(day)}"
    if form == 3:
        return f"{rng.choice(WEEKDAYS)} the {_ordinal(day)}"
    if form == 4:
        return f"next {rng.choice(WEEKDAYS)}"
    return f"{rng.choice(WEEKDAYS)}, the {_ordinal(day)}"


def _amount(rng: random.Random) -> str:
    form = rng.randrange(4)
    if form == 0:
        return f"${rng.randint(1, 48)},{rng.choice(('000', '250', '500', '750', '100', '900'))}"
    if form == 1:
        return f"${rng.randrange(100, 1000, 10)}"
    if form == 2:
        return f"${rng.randint(20, 400)}.{rng.choice(('00', '50', '75', '99', '20'))}"
    return f"${rng.randint(1, 9)},{rng.randrange(0, 1000, 50):03d}"


def _amount_small(rng: random.Random) -> str:
    return f"${rng.choice((15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 80, 120, 150, 200))}"


def phone(rng: random.Random) -> str:
    return f"555-01{rng.randint(0, 99):02d}"


def _choice(values: tuple[str, ...]) -> Callable[[random.Random], str]:
    return lambda r: r.choice(values)


SLOTS: dict[str, Callable[[random.Random], str]] = {
    **{slot: _choice(values) for slot, values in SLOT_VALUES.items()},
    "fullname": lambda r: f"{r.choice(FIRST_NAMES)} {r.choice(SURNAMES)}",
    "date": _date,
    "amount": _amount,
    "amount_small": _amount_small,
    "pct": lambda r: str(r.randrange(10, 100, 5)),
    "rate": lambda r: f"{r.randint(2, 7)}.{r.choice((1, 2, 4, 5, 6, 8, 9))}",
    "n_days": lambda r: str(r.randint(3, 24)),
    "inv": lambda r: f"INV-{r.randint(4000, 4099)}",
    "order": lambda r: f"#{r.randint(10200, 10299)}",
    "ticket": lambda r: f"#{r.randint(7700, 7799)}",
    "phone": phone,
    "house_no": lambda r: str(r.randint(12, 98)),
}
SLOT_RE = re.compile(r"\{([a-z_]+?)(\d*)\}")


def fill(rng: random.Random, template: str) -> str:
    """Fill {slot} / {slot2} placeholders; a repeated placeholder gets the same value."""
    memo: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        name = m.group(0)
        if name not in memo:
            memo[name] = SLOTS[m.group(1)](rng)
        return memo[name]

    return SLOT_RE.sub(sub, template)
