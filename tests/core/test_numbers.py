"""The one number reader: what people type is read as they meant it, or refused with a sentence
that says how to write it, never silently misread."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.numbers import NumberFormatError, format_plain, parse_number

READ = [
    # text, decimal_mark, value, was_percent, words in the reading
    ("42", None, 42, False, "read as 42"),
    ("  42\n", None, 42, False, "read as 42"),
    ("1,5", None, 1.5, False, "read as 1.5 (decimal comma)"),
    ("1.5", None, 1.5, False, "read as 1.5 (decimal point)"),
    ("45,5", None, 45.5, False, "decimal comma"),
    ("0,500", None, 0.5, False, "read as 0.5"),
    (",5", None, 0.5, False, "read as 0.5"),
    ("1234,567", None, 1234.567, False, "decimal comma"),
    ("12 000", None, 12000, False, "read as 12000"),
    ("12\u2009000", None, 12000, False, "read as 12000"),
    ("12\u202f000,25", None, 12000.25, False, "decimal comma"),
    ("1\u00a0234\u00a0567", None, 1234567, False, "read as 1234567"),
    ("1'234.50", None, 1234.5, False, "decimal point"),
    ("1\u2019000", None, 1000, False, "read as 1000"),
    ("1,234.5", None, 1234.5, False, "decimal point"),
    ("1.234,5", None, 1234.5, False, "decimal comma"),
    ("1.234.567,89", None, 1234567.89, False, "decimal comma"),
    ("1,234,567", None, 1234567, False, "',' as thousands separator"),
    ("1,500", ",", 1.5, False, "read as 1.5 (decimal comma)"),
    ("1.500", ",", 1500, False, "read as 1500 ('.' as thousands separator)"),
    ("1,500", ".", 1500, False, "read as 1500 (',' as thousands separator)"),
    ("1.500", ".", 1.5, False, "read as 1.5 (decimal point)"),
    ("12 %", None, 12, True, "read as 12 %"),
    ("12%", None, 12, True, "read as 12 %"),
    ("\u221212 %", None, -12, True, "read as -12 %"),
    ("\u2013 3", None, -3, False, "read as -3"),
    ("-0,25", None, -0.25, False, "read as -0.25"),
    ("+20", None, 20, False, "read as 20"),
]


@pytest.mark.parametrize(("text", "mark", "value", "percent", "reading"), READ)
def test_what_people_type_is_read_as_they_meant(text, mark, value, percent, reading):
    parsed = parse_number(text, decimal_mark=mark)
    assert parsed.value == pytest.approx(value, rel=1e-15)
    assert parsed.was_percent is percent
    assert reading in parsed.reading


REFUSED = [
    # text, options, words the message must carry
    ("", {}, "Enter a number"),
    ("   ", {}, "Enter a number"),
    ("1e3", {}, "exponent"),
    ("1e309", {}, "write the number out in full"),
    ("2.5E-4", {}, "exponent"),
    ("inf", {}, "not a finite number"),
    ("-Infinity", {}, "not a finite number"),
    ("nan", {}, "not a finite number"),
    ("1.2.3", {}, "more than one decimal mark"),
    ("1,2,3", {}, "more than one decimal mark"),
    ("1,23.4,5", {}, "more than one decimal mark"),
    ("12 00", {}, "thousands separator in the wrong place"),
    ("1 2345", {}, "thousands separator in the wrong place"),
    ("3,141 59", {}, "after the decimal mark"),
    ("1,500", {}, "could be read as 1.5 or as 1500"),
    ("1.500", {}, "could be read as 1.5 or as 1500"),
    ("-250,000", {}, "could be read as 250 or as 250000"),
    ("12 %", {"allow_percent": False}, "does not take"),
    ("twelve", {}, "is not a number"),
    ("12-3", {}, "is not a number"),
    ("--5", {}, "is not a number"),
    ("%", {}, "is not a number"),
    ("9" * 101, {}, "too long"),
]


@pytest.mark.parametrize(("text", "options", "words"), REFUSED)
def test_what_cannot_be_read_is_refused_with_a_message_saying_how_to_write_it(text, options, words):
    with pytest.raises(NumberFormatError) as refused:
        parse_number(text, **options)
    assert words in str(refused.value)


def test_the_ambiguous_form_says_how_to_write_each_reading():
    with pytest.raises(NumberFormatError) as refused:
        parse_number("1,500")
    message = str(refused.value)
    assert "Write 1.5" in message and "or 1500 (or 1 500) for 1500" in message


def test_the_decimal_mark_setting_is_checked():
    with pytest.raises(ValueError, match="decimal_mark"):
        parse_number("1", decimal_mark=";")


# Property tests: numbers written in any of the everyday styles read back exactly.

STYLES = {
    # decimal mark: the separators that may group its thousands
    ".": [",", " ", "\u2009", "\u202f", "\u00a0", "'", "\u2019", ""],
    ",": [".", " ", "\u2009", "\u202f", "\u00a0", "'", "\u2019", ""],
}


def group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


@st.composite
def written_numbers(draw):
    whole = draw(st.integers(min_value=0, max_value=10**15))
    fraction = draw(st.text(alphabet="0123456789", max_size=6))
    mark = draw(st.sampled_from(sorted(STYLES)))
    separator = draw(st.sampled_from(STYLES[mark]))
    sign = draw(st.sampled_from(["", "-", "+", "\u2212", "\u2013"]))
    text = sign + group(str(whole), separator) + (mark + fraction if fraction else "")
    expected = float(f"{whole}.{fraction or '0'}") * (-1 if sign and sign != "+" else 1)
    return text, mark, expected


@given(written_numbers())
def test_with_the_locale_known_every_everyday_style_reads_back_exactly(case):
    text, mark, expected = case
    assert parse_number(text, decimal_mark=mark).value == expected


@given(written_numbers())
def test_without_the_locale_a_number_is_read_exactly_or_refused_as_ambiguous(case):
    text, _, expected = case
    try:
        parsed = parse_number(text)
    except NumberFormatError as refused:
        assert "could be read as" in str(refused)
    else:
        assert parsed.value == expected


@given(st.floats(min_value=-1e80, max_value=1e80))  # written out, 1e80 is 81 digits
def test_any_finite_float_written_plainly_reads_back(x):
    plain = f"{x:.17f}".rstrip("0") if abs(x) < 1e16 else f"{x:.0f}"
    assert parse_number(plain, decimal_mark=".").value == pytest.approx(x, rel=1e-15, abs=1e-17)


@given(st.text(max_size=40))
def test_anything_typed_is_a_finite_number_or_a_message(text):
    try:
        parsed = parse_number(text)
    except NumberFormatError as refused:
        assert str(refused).strip()
    else:
        assert math.isfinite(parsed.value)


# Within 1e-60..1e60 a float written out fits the reader's 100 characters.
@given(
    st.floats(min_value=-1e60, max_value=1e60).filter(lambda x: x == 0 or abs(x) > 1e-60),
    st.sampled_from([None, ".", ","]),
)
def test_a_number_written_plainly_for_a_link_reads_back_exactly_in_any_locale(x, mark):
    written = format_plain(x)
    assert "e" not in written
    assert parse_number(written, decimal_mark=mark).value == x
