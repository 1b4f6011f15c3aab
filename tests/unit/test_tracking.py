"""The TikTok tracking ID in a first message, in the forms people's phones really send."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging_partner.domain.tracking import TrackingIdExtractor

EXTRACT = TrackingIdExtractor().extract
ID = "7412345678901234567"


@pytest.mark.parametrize(
    "text",
    [
        f"TikTok ID: {ID}. Hello! I came across your ad on TikTok and would like to find out more.",
        f"tiktok id: {ID}. hello",
        f"TIKTOK ID:{ID}.",
        f"TikTok ID : {ID} . Hello",
        f"TikTok  ID:   {ID}",
        f"Tik Tok ID: {ID}",
        f"TikTok ID - {ID}",
        f"TikTok ID #{ID}!",
        f"TikTok ID={ID};",
        f"Hi there! TikTok ID: {ID}. Do you ship to Porto?",
        f"Olá! TikTok ID: {ID}. Vi o vosso anúncio no TikTok e gostaria de saber mais.",
        f"TikTok ID: {ID}。你好！我在TikTok上看到了你们的广告。",
        f"TikTok ID: {ID}. مرحبا! رأيت إعلانكم على تيك توك",
        f"Tik\u200bTok ID:\u200b {ID}\u200d.",  # zero-width characters
        f"\u202aTikTok ID: {ID}\u202c",  # bidirectional marks
        f"ＴｉｋＴｏｋ　ＩＤ：{''.join(chr(0xFF10 + int(d)) for d in ID)}．",  # full-width letters, digits, colon, space
        f"TikTok ID: {ID}\nHello",
    ],
)
def test_found(text: str) -> None:
    assert EXTRACT(text) == ID


@pytest.mark.parametrize(
    "text",
    [
        "Hello! I came across your ad on TikTok and would like to find out more.",  # the user deleted the ID
        "TikTok ID: . Hello!",
        "TikTok ID: 123. Hello",  # too short to be an ID
        "My TikTok is @sneakerfan",
        "",
        None,
    ],
)
def test_organic(text: str | None) -> None:
    assert EXTRACT(text) is None


def test_patterns_are_configurable() -> None:
    custom = TrackingIdExtractor(patterns=(r"\[ref:(?P<id>TT-[0-9A-Za-z-]+)\]",))
    assert custom.extract("Hi from TikTok [ref:TT-1763007625226-ab]") == "TT-1763007625226-ab"
    assert custom.extract(f"TikTok ID: {ID}") is None


def test_a_pattern_without_an_id_group_is_refused() -> None:
    with pytest.raises(ValueError, match="named group"):
        TrackingIdExtractor(patterns=(r"TikTok (\d+)",))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_and_is_deterministic(text: str) -> None:
    assert EXTRACT(text) == EXTRACT(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.from_regex(r"[0-9]{15,20}", fullmatch=True), st.text(max_size=60))
def test_an_id_in_the_documented_form_is_found_whatever_surrounds_it(before: str, tracking_id: str, after: str) -> None:
    text = f"{before} TikTok ID: {tracking_id}. {after}"
    found = EXTRACT(text)
    assert found is not None
    assert found.startswith(tracking_id) or EXTRACT(before + " ") is not None  # an earlier ID in `before` may win
