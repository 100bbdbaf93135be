"""Click parameter types the commands share: one-line errors for values click would accept."""

from __future__ import annotations

import math

import click


class FiniteFloat(click.FloatRange):
    """A float option in a range that also refuses nan and inf with a one-line error."""

    name = "float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number is not None and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class GivenPath(click.Path):
    """A path that refuses an empty value (an unset shell variable), which click would read
    as the current folder, or a command as "not given" and so as its default."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("is empty; give a path.", param, ctx)
        return super().convert(value, param, ctx)
