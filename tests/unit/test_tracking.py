"""The TikTok tracking ID in a first message, in the forms people's phones really send, and nowhere else."""

from __future__ import annotations

import pytest

from messaging_partner.domain.tracking import (
    DEFAULT_PATTERNS,
    MAX_PATHS,
    SCAN_LIMIT,
    NotLinear,
    TrackingIdExtractor,
    backtracking_paths,
)

EXTRACT = TrackingIdExtractor().extract
ID = "7412345678901234567"
PREFILLED = f"TikTok ID: {ID}. Hello! I came across your ad on TikTok and would like to find out more."


@pytest.mark.parametrize(
    "text",
    [
        PREFILLED,
        f"tiktok id: {ID}. hello",
        f"TIKTOK ID:{ID}.",
        f"TikTok ID : {ID} . Hello",
        f"TikTok  ID:   {ID}",
        f"Tik Tok ID: {ID}",
        f"TikTok ID: {ID}",
        f"TikTok ID: {ID}!",
        f"Hi there! TikTok ID: {ID}. Do you ship to Porto?",
        f"Olá! TikTok ID: {ID}. Vi o vosso anúncio no TikTok e gostaria de saber mais.",
        f"TikTok ID: {ID}。你好！我在TikTok上看到了你们的广告。",
        f"你好TikTok ID: {ID}",  # no space between Chinese text and the marker
        f"TikTok ID: {ID}你好",  # nor after the ID
        f"TikTok ID: {ID}. مرحبا! رأيت إعلانكم على تيك توك",
        f"Tik\u200bTok ID:\u200b {ID}\u200d.",  # zero-width characters
        f"\u202aTikTok ID: {ID}\u202c",  # bidirectional marks
        f"ＴｉｋＴｏｋ　ＩＤ：{''.join(chr(0xFF10 + int(d)) for d in ID)}．",  # full-width letters, digits, colon, space
        f"TikTok ID: {ID}\nHello",
        f"TikTok ID：{ID}。您好",  # a Chinese keyboard's colon
    ],
)
def test_found(text: str) -> None:
    assert EXTRACT(text) == ID


@pytest.mark.parametrize(
    "text",
    [
        "Hello! I came across your ad on TikTok and would like to find out more.",  # the user deleted the ID
        "TikTok ID: . Hello!",
        "TikTok ID: 12345. Hello",  # too short to be an ID
        "TikTok ID: " + "7" * 65,  # too long
        "My TikTok is @sneakerfan",
        "",
        None,
    ],
)
def test_organic(text: str | None) -> None:
    assert EXTRACT(text) is None


# The false positives reported in the issue, their neighbours, and the same questions in other languages:
# "TikTok" and "ID" in an ordinary sentence are not a marker, and an ordinary word is never an ID.
ORDINARY = [
    "How do I change my TikTok ID settings?",
    "TikTok identity",
    "tiktok id" + " " * 60_000,
    "tiktok id" + " " * 60_000 + ID,  # no colon: a sentence, however far the number
    "What is my TikTok ID?",
    "My TikTok ID is sneakerfan99",
    "my tiktok id sneakerfan",
    "TikTok IDs and passwords",
    "TikTok idea for my shop",
    "TikTok identification failed",
    "TikTok ID verification: how long does it take?",
    "TikTok ID: settings",
    "TikTok ID: sneakerfan99",  # a username, not TikTok's id form
    "TikTok ID: 1234abcd5678",
    f"TikTok ID {ID}",  # the colon is part of the shape
    f"TikTok ID - {ID}",
    f"TikTok ID #{ID}",
    f"TikTok ID={ID}",
    f"MyTikTok ID: {ID}",  # "TikTok" inside a longer word
    f"TikTok ID: {ID}abc",  # the ID runs on into a word
    f"TikTok ID: {ID}_2",
    "I have 1500000 followers on TikTok, ID card ready",
    "ID: 74123456789. TikTok",  # an ID without "TikTok" before it
    "TikTok: 7412345678901234567",
    # Spanish
    "¿Cómo cambio la configuración de mi ID de TikTok?",
    "¿Dónde veo mi TikTok ID? Quiero verificar mi identidad",
    "TikTok identidad verificada, precio: 150000 pesos",
    # Portuguese
    "Como altero as configurações do meu TikTok ID?",
    "Meu TikTok ID é joana_22, vi o anúncio",
    "TikTok identidade: 2024",
    # Indonesian
    "Bagaimana cara mengubah pengaturan TikTok ID saya?",
    "TikTok identitas saya belum terverifikasi",
    "TikTok ID saya: budi_santoso",
    # Vietnamese
    "Làm sao để đổi cài đặt TikTok ID của tôi?",
    "TikTok ID: cài đặt ở đâu vậy?",
    "Danh tính TikTok của tôi, giá: 250000 đồng",
    # Thai
    "ฉันจะเปลี่ยนการตั้งค่า TikTok ID ได้อย่างไร",
    "TikTok IDของฉันคืออะไร",
    "ยืนยันตัวตน TikTok id ราคา 1500000 บาท",
    # Arabic
    "كيف أغير إعدادات TikTok ID الخاص بي؟",
    "هوية TikTok الخاصة بي: أحمد",
    "TikTok ID: إعدادات",
    # Chinese
    "如何更改我的TikTok ID设置？",
    "TikTok ID：设置在哪里",
    "TikTok身份验证，价格：1500000元",
    "我的TikTok ID是xiaoming2024",
]


@pytest.mark.parametrize("text", ORDINARY, ids=lambda text: text[:40].strip())
def test_an_ordinary_sentence_stays_organic(text: str) -> None:
    assert EXTRACT(text) is None


def test_an_id_anywhere_in_the_scanned_part_is_found() -> None:
    greeting = "Boa tarde! " * ((SCAN_LIMIT - 200) // len("Boa tarde! "))
    assert EXTRACT(greeting + PREFILLED) == ID
    assert EXTRACT(PREFILLED + " Tudo bem?" * 10_000) == ID  # a long message: its opening is read


def test_only_the_scanned_part_is_read() -> None:
    assert EXTRACT("." * SCAN_LIMIT + PREFILLED) is None
    # Invisible characters count towards the limit (they are dropped after the cut).
    assert EXTRACT("\u200b" * SCAN_LIMIT + PREFILLED) is None


@pytest.mark.parametrize("cut_at", [3, 10, len(ID) - 1])
def test_an_id_cut_by_the_limit_is_not_read_as_a_shorter_one(cut_at: int) -> None:
    marker = f"TikTok ID: {ID}."
    text = "." * (SCAN_LIMIT - len("TikTok ID: ") - cut_at) + marker
    assert EXTRACT(text) is None
    whole = "." * (SCAN_LIMIT - len("TikTok ID: ") - len(ID) - 1) + marker + " Obrigado!"  # the ID and its stop fit
    assert EXTRACT(whole) == ID


def test_a_text_that_normalizes_longer_is_cut_too() -> None:
    # U+FDFA folds to 18 characters under NFKC: 100 of them make 1,800 characters.
    assert EXTRACT("\ufdfa" * 100 + PREFILLED) is None
    assert EXTRACT("\ufdfa" * 10 + PREFILLED) == ID


def test_patterns_are_configurable() -> None:
    custom = TrackingIdExtractor(patterns=(r"\[ref:(?P<id>TT-[0-9A-Za-z-]+)\]",))
    assert custom.extract("Hi from TikTok [ref:TT-1763007625226-ab]") == "TT-1763007625226-ab"
    assert custom.extract(f"TikTok ID: {ID}") is None


def test_a_pattern_without_an_id_group_is_refused() -> None:
    with pytest.raises(ValueError, match="named group"):
        TrackingIdExtractor(patterns=(r"TikTok (\d+)",))


def test_the_default_pattern_tries_one_way_from_each_position() -> None:
    assert [backtracking_paths(pattern) for pattern in DEFAULT_PATTERNS] == [1]


@pytest.mark.parametrize(
    ("pattern", "paths"),
    [
        (r"\[ref:(?P<id>TT-[0-9A-Za-z-]+)\]", SCAN_LIMIT),  # one unbounded repeat: as many lengths as the text
        (r"(?P<id>x[a-z]*)!", SCAN_LIMIT + 1),
        (r"ref\s{0,9}:(?P<id>[0-9]{6,20})", 10 * 15),
        (r"ref\s*+:\s*+(?P<id>[0-9]++)", 1),  # possessive repeats give nothing back
        (r"ref(?:\s*:)?(?P<id>[0-9]{8})", 1 + SCAN_LIMIT + 1),  # an optional part with a repeat inside
        (r"(?:ref|id)[:=](?P<id>[0-9]{8})", 2),
        (r"(?P<id>(?:ab)+)", SCAN_LIMIT),  # a repeat of a part that matches in one way
        (r"(?<![a-z])(?P<id>[0-9]{8})(?![0-9])", 1),
    ],
)
def test_a_configured_pattern_whose_tries_are_few_is_accepted(pattern: str, paths: int) -> None:
    assert backtracking_paths(pattern) == paths
    TrackingIdExtractor(patterns=(pattern,))


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"\btik\s*tok\s*id\s*[:=#\-]?\s*(?P<id>[A-Za-z0-9_\-]{6,64})", "ways to match"),  # the default before
        (r"ref\s*\s*:(?P<id>[0-9]+)", "ways to match"),  # two unbounded repeats of spaces
        (r"(?P<id>[a-z]{0,99}[a-z]{0,99})!", "ways to match"),  # bounded, but 10,000 ways
        (r"(?P<id>(\w+)+):", "nested quantifier"),
        (r"(?P<id>(a|aa)*)x", "nested quantifier"),
        (r"(?P<id>(?:a?){2,9})", "nested quantifier"),
        (r"(?P<q>['\"])(?P<id>[0-9]+)(?P=q)", "back-reference"),
    ],
)
def test_a_configured_pattern_that_could_take_long_is_refused(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        TrackingIdExtractor(patterns=(pattern,))


def test_the_refusal_says_why_and_what_to_do() -> None:
    with pytest.raises(NotLinear, match="nested quantifier"):
        backtracking_paths(r"(\w+)+")
    with pytest.raises(ValueError, match=rf"2,001 or more ways .* \(at most {MAX_PATHS:,}\): bound its repeats .* possessive"):
        TrackingIdExtractor(patterns=(r"ref\s*\s*:(?P<id>[0-9]+)",))


def test_an_accepted_pattern_at_the_limit_still_answers_on_a_long_hostile_message() -> None:
    worst = TrackingIdExtractor(patterns=(r"(?P<id>[a-z]{0,43}[a-z]{0,44})!",))  # 44 x 45 = 1,980 ways
    assert worst.extract("a" * 1_000_000) is None  # read up to SCAN_LIMIT only
    assert worst.extract("abc!") == "abc"


def test_a_configured_pattern_reads_the_scanned_part_only() -> None:
    custom = TrackingIdExtractor(patterns=(r"\[ref:(?P<id>TT-[0-9A-Za-z-]+)\]",))
    assert custom.extract("." * SCAN_LIMIT + "[ref:TT-1763007625226-ab]") is None
    assert custom.extract("." * 100 + "[ref:TT-1763007625226-ab]" + "." * SCAN_LIMIT) == "TT-1763007625226-ab"
