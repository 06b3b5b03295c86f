"""Text normalisation, decoding and dates: invisible differences vanish, visible ones stay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redline.crawler.extract import normalise_text
from redline.crawler.extract.dates import parse_datetime, zone
from redline.crawler.extract.decode import decode_html, looks_binary


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\u00a0b", "a b"),  # no-break space
        ("a \u2009 b\u3000c", "a b c"),  # thin and ideographic spaces
        ("co\u00adoperate", "cooperate"),  # soft hyphen
        ("zero\u200bwidth\u200d joiner\ufeff", "zerowidth joiner"),
        ("nul\x00byte", "nulbyte"),
        ("lone \ud800surrogate", "lone surrogate"),
        ("Cafe\u0301", "Café"),  # NFD to NFC
        ("  many \n\t lines  ", "many lines"),
        ("bell\x07char", "bell char"),
    ],
)
def test_invisible_differences_are_normalised(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


@pytest.mark.parametrize("text", ["“quoted”", '"quoted"', "it’s", "it's", "a – b", "a - b", "x…"])
def test_real_punctuation_is_kept(text: str) -> None:
    assert normalise_text(text) == text


def test_a_changed_quote_mark_is_a_different_text() -> None:
    assert normalise_text("“quoted”") != normalise_text('"quoted"')


CYRILLIC = "Міська рада у вівторок обговорила бюджет і новий міст через річку. " * 4


def test_windows_1251_page_that_claims_utf8_is_decoded_as_1251() -> None:
    raw = f'<meta charset="windows-1251"><p>{CYRILLIC}</p>'.encode("cp1251")
    assert CYRILLIC in decode_html(raw, "utf-8").text


def test_windows_1251_page_without_any_charset_is_guessed() -> None:
    raw = f"<p>{CYRILLIC}</p>".encode("cp1251")
    assert CYRILLIC in decode_html(raw, None).text


def test_utf8_page_that_claims_windows_1251_is_decoded_as_utf8() -> None:
    raw = f'<meta charset="windows-1251"><p>{CYRILLIC}</p>'.encode()
    decoded = decode_html(raw, "windows-1251")
    assert decoded.encoding == "utf-8"
    assert CYRILLIC in decoded.text


def test_byte_order_mark_wins() -> None:
    raw = "\ufeff<p>héllo</p>".encode("utf-16-le")
    assert "héllo" in decode_html(b"\xff\xfe" + raw[2:], "iso-8859-1").text


def test_binary_is_recognised() -> None:
    assert looks_binary(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert looks_binary(bytes(range(32)) * 100)
    assert not looks_binary(b"<html><body>plain text</body></html>")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-12-28T07:33:00+02:00", datetime(2024, 12, 28, 5, 33, tzinfo=UTC)),
        ("2024-12-28T05:33:00.000Z", datetime(2024, 12, 28, 5, 33, tzinfo=UTC)),
        ("2024-12-28T05:33:00", datetime(2024, 12, 28, 5, 33, tzinfo=UTC)),  # no zone: UTC
        ("2024-12-28", datetime(2024, 12, 28, tzinfo=UTC)),
        ("Sat, 28 Dec 2024 07:33:00 +0200", datetime(2024, 12, 28, 5, 33, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        ("2024-13-45T99:99", None),
    ],
)
def test_dates_are_aware_utc_or_none(value: object, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


def test_a_time_without_zone_is_read_in_the_profile_zone() -> None:
    found = parse_datetime("2024-12-28T07:33", zone("Europe/Kyiv"))
    assert found == datetime(2024, 12, 28, 5, 33, tzinfo=UTC)
    assert found.tzinfo is UTC


@given(st.text())
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once
    assert "\x00" not in once and "  " not in once and once == once.strip()
