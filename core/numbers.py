"""One reader for every number a person types: quizzes, checks, ROI, settings and imports.

People write numbers the way their locale taught them: "1,5" and "1.5", "12 000",
"1'234.50", "-12 %" (often with a Unicode minus). Python's float() reads only one of
those shapes and also takes things nobody means to type in a form ("1e309" is infinity,
"nan" is a number). This
module accepts the everyday shapes, refuses the rest, and refuses the one shape that
cannot be read without knowing the writer's locale ("1,500": one and a half, or fifteen
hundred?) instead of guessing. Every refusal is a sentence a person can act on.

Pure: no Flask, no models, so the question engine, forms and the importer can all use it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["NumberFormatError", "ParsedNumber", "format_plain", "parse_number"]

DIGITS = frozenset("0123456789")
DECIMAL_MARKS = frozenset(".,")
# Spaces and apostrophes only ever group thousands; they are never a decimal mark.
# The thin and narrow no-break spaces are what word processors and typographic
# conventions (SI, French) insert, so they arrive pasted into forms and spreadsheets.
GROUP_SPACES = frozenset(" \u00a0\u2009\u202f")
GROUP_APOSTROPHES = frozenset("'\u2019")
GROUP_ONLY = GROUP_SPACES | GROUP_APOSTROPHES
# Word processors turn a typed hyphen into an en dash; the Unicode minus comes from
# copied reports. Both mean "negative" when they lead a number.
MINUS_SIGNS = frozenset("-\u2212\u2013\u2012")
PERCENT_SIGNS = frozenset("%\uff05")
MARK_NAMES = {".": "decimal point", ",": "decimal comma"}
# A person types a few dozen characters at most; a longer text is a paste gone wrong,
# and refusing it early keeps a hostile cell from costing much.
MAX_LENGTH = 100

# Digits with at most one mark, ASCII only (the caller checks there is a digit).
PLAIN = re.compile(r"(\d*)([.,]?)(\d*)", re.ASCII)
CHARACTERS = re.compile(f"[0-9.,{re.escape(''.join(sorted(GROUP_ONLY)))}]+")
HOW_TO_WRITE = "use digits, at most one decimal mark and, if you like, spaces between thousands"


class NumberFormatError(ValueError):
    """The text is not a number this tool reads; str(error) tells the person what to type."""


@dataclass(frozen=True)
class ParsedNumber:
    """A number read from text, with how it was read so a page can show it back."""

    value: float
    was_percent: bool
    reading: str  # e.g. "read as 1.5 (decimal comma)"


def parse_number(
    text: str, *, decimal_mark: str | None = None, allow_percent: bool = True
) -> ParsedNumber:
    """Read a number as a person typed it.

    decimal_mark is the writer's locale convention when it is known ("." or ","); it only
    settles the one ambiguous shape, a single separator followed by exactly three digits.
    With None, that shape is refused rather than guessed. A percent sign is accepted
    (when allow_percent) and reported in was_percent; the value stays as written, so
    "12 %" is 12.
    """
    if decimal_mark not in (None, ".", ","):
        raise ValueError(f"decimal_mark must be '.', ',' or None, not {decimal_mark!r}")
    original = text
    shown = _quote(original)
    body = text.strip()
    if not body:
        raise NumberFormatError("Enter a number.")
    if len(body) > MAX_LENGTH:
        raise NumberFormatError(f"{shown} is too long to be a number; {HOW_TO_WRITE}.")

    was_percent = False
    if body[-1] in PERCENT_SIGNS:
        if not allow_percent:
            raise NumberFormatError(
                f"{shown} has a percent sign, which this field does not take; "
                f"enter the number alone, e.g. {body[:-1].strip() or '12'}."
            )
        was_percent = True
        body = body[:-1].rstrip()

    negative = False
    if body and (body[0] in MINUS_SIGNS or body[0] == "+"):
        negative = body[0] in MINUS_SIGNS
        body = body[1:].lstrip()

    plain = PLAIN.fullmatch(body)
    if plain and (plain[1] or plain[3]) and not (plain[2] and _could_group(plain[1], plain[3])):
        # Digits with at most one unambiguous mark ("4", "4,0", "0.125"), the shape of
        # nearly every cell of a survey file: no separator rules to apply.
        integer, mark, fraction = plain.groups()
        note = ""
    else:
        _refuse_words(body, shown)
        if CHARACTERS.fullmatch(body) is None:
            raise NumberFormatError(
                f"{shown} is not a number; {HOW_TO_WRITE}, e.g. 1 250.5 or 1,5."
            )
        if not any(c in DIGITS for c in body):
            raise NumberFormatError(f"{shown} has no digits; {HOW_TO_WRITE}, e.g. 1 250.5 or 1,5.")
        integer, fraction, mark, note = _split(body, shown, decimal_mark)
    canonical = integer.lstrip("0") or "0"
    if fraction.rstrip("0"):
        canonical += "." + fraction.rstrip("0")
    value = float(canonical)
    if not math.isfinite(value):
        raise NumberFormatError(f"{shown} is too large; enter a number with fewer digits.")
    if negative and value != 0:
        value = -value
        canonical = "-" + canonical
    reading = f"read as {canonical}{' %' if was_percent else ''}"
    notes = [n for n in (MARK_NAMES.get(mark or ""), note) if n]
    if notes:
        reading += f" ({', '.join(notes)})"
    return ParsedNumber(value=value, was_percent=was_percent, reading=reading)


def format_plain(value: float) -> str:
    """Write a finite number so parse_number reads it back exactly whatever the decimal mark.

    For links and hidden fields that carry a number from one request to the next: no
    exponent (which %g writes for 1234567 and parse_number refuses) and never the
    ambiguous "1.125", which is written "1.1250".
    """
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written as a number")
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, _, fraction = text.lstrip("-").partition(".")
    if _could_group(whole, fraction):
        text += "0"
    return text


def _quote(text: str) -> str:
    shown = text.strip()
    if len(shown) > 30:
        shown = shown[:27] + "..."
    return f"\u201c{shown}\u201d"


def _refuse_words(body: str, shown: str) -> None:
    """Name the two things float() accepts that a person never means: exponents and infinities."""
    lowered = body.casefold()
    if lowered in {"inf", "infinity", "nan", "\u221e"} or "\u221e" in body:
        raise NumberFormatError(
            f"{shown} is not a finite number; enter an amount in digits, e.g. 1 250.5."
        )
    exponent_shape = DIGITS | DECIMAL_MARKS | GROUP_ONLY | {"e", "+", "-"}
    if "e" in lowered and any(c in DIGITS for c in lowered) and set(lowered) <= exponent_shape:
        raise NumberFormatError(
            f"{shown} uses an exponent, which this field does not take; write the number "
            "out in full, e.g. 1000 instead of 1e3."
        )


def _split(body: str, shown: str, decimal_mark: str | None) -> tuple[str, str, str | None, str]:
    """Return (integer digits, fraction digits, decimal mark used, note) or refuse."""
    marks = [c for c in body if c in DECIMAL_MARKS]
    kinds = set(marks)
    has_group_only = any(c in GROUP_ONLY for c in body)

    if len(kinds) == 2:
        # "1,234.5" and "1.234,5": whichever mark comes last is the decimal mark, and it
        # may appear once; the other one groups thousands. No locale needed.
        decimal = marks[-1]
        if marks.count(decimal) > 1:
            raise _several_marks(shown)
        integer_part, fraction = body.rsplit(decimal, 1)
        return _grouped(integer_part, shown), _fraction(fraction, shown), decimal, ""

    if not kinds:
        return _grouped(body, shown), "", None, ""

    mark = marks[0]
    if len(marks) > 1:
        # Repeated, the mark can only be grouping ("1,234,567"); otherwise it is a typo.
        try:
            return _grouped(body, shown), "", None, f"'{mark}' as thousands separator"
        except NumberFormatError:
            raise _several_marks(shown) from None

    integer_part, fraction = body.split(mark)
    if has_group_only or not _could_group(integer_part, fraction):
        # Spaces already group the thousands ("12 000,5"), or the digits around the mark
        # cannot be a thousands group ("1,5", "0,500", "1234,567"): it is a decimal mark.
        return _grouped(integer_part, shown), _fraction(fraction, shown), mark, ""

    # One mark followed by exactly three digits: "1,500" or "1.500".
    if decimal_mark == mark:
        return integer_part, fraction, mark, ""
    if decimal_mark is not None:
        return integer_part + fraction, "", None, f"'{mark}' as thousands separator"
    as_decimal = (integer_part.lstrip("0") or "0") + "." + fraction.rstrip("0")
    as_decimal = as_decimal.rstrip(".")
    as_whole = integer_part + fraction
    raise NumberFormatError(
        f"{shown} could be read as {as_decimal} or as {as_whole}. "
        f"Write {as_decimal} (or {integer_part},{fraction.rstrip('0') or '0'}) for {as_decimal}, "
        f"or {as_whole} (or {integer_part} {fraction}) for {as_whole}."
    )


def _could_group(integer_part: str, after: str) -> bool:
    """Whether "<integer_part><mark><after>" is a valid thousands grouping."""
    return (
        len(after) == 3
        and 1 <= len(integer_part) <= 3
        and integer_part.isdigit()
        and not integer_part.startswith("0")
    )


def _grouped(integer_part: str, shown: str) -> str:
    """Digits of an integer part whose separators, if any, sit every three digits."""
    if integer_part and all(c in DIGITS for c in integer_part):
        return integer_part
    if not integer_part:
        return "0"  # ".5" and ",5"
    groups: list[str] = []
    current = ""
    for c in integer_part:
        if c in DIGITS:
            current += c
        else:
            groups.append(current)
            current = ""
    groups.append(current)
    first, rest = groups[0], groups[1:]
    if not (1 <= len(first) <= 3) or any(len(g) != 3 for g in rest) or first.startswith("0"):
        raise NumberFormatError(
            f"{shown} has a thousands separator in the wrong place; separators go every three "
            "digits counting from the decimal mark, e.g. 1 200 or 12 000, or leave them out."
        )
    return "".join(groups)


def _fraction(fraction: str, shown: str) -> str:
    if all(c in DIGITS for c in fraction):
        return fraction
    raise NumberFormatError(
        f"{shown} has a separator after the decimal mark; write the decimals together, "
        "e.g. 3.14159."
    )


def _several_marks(shown: str) -> NumberFormatError:
    return NumberFormatError(
        f"{shown} has more than one decimal mark; write one, e.g. 1.5 or 1,5 "
        "(thousands can be separated with spaces: 12 000.5)."
    )
