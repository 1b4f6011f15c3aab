"""Properties of the tracking-ID rule: ordinary sentences in many languages stay organic; the documented marker is found.

Sentences are built from words (customers' questions in eight languages, plus "TikTok",
"Tik", "Tok", "ID", "identity", "settings"), numbers, punctuation including colons, and
the marker's parts each right or slightly wrong. Whether a sentence carries the documented
marker is decided over its words by `marker_id`, written from the rule's statement, not
from its pattern. With the rule this replaced, each property fails on a short example
such as "TikTok ID settings".
"""

from __future__ import annotations

import unicodedata

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from messaging_partner.domain.tracking import SCAN_LIMIT, TrackingIdExtractor

EXTRACT = TrackingIdExtractor().extract

WORDS = {
    "english": "how do I change my account settings identity ids idea verify hello ad price ship size where is",
    "spanish": "cómo cambio la configuración de mi identidad precio anuncio hola envío dónde",
    "portuguese": "como altero as configurações do meu identidade preço olá vi anúncio obrigado",
    "indonesian": "bagaimana cara mengubah pengaturan saya identitas harga iklan terima kasih",
    "vietnamese": "làm sao để đổi cài đặt của tôi danh tính giá quảng cáo xin chào",
    "thai": "ฉัน จะ เปลี่ยน การตั้งค่า ได้อย่างไร ตัวตน ราคา โฆษณา สวัสดี",
    "arabic": "كيف أغير إعدادات الخاص بي هوية سعر إعلان مرحبا",
    "chinese": "如何 更改 我的 设置 身份 价格 广告 你好 请问",
}
MARKER_WORDS = ["TikTok", "tiktok", "TIKTOK", "Tik", "Tok", "tok", "ID", "id", "Id", "ID:", "id:", "ID：", "IDs", "identity"]
PUNCTUATION = [":", "：", ",", ".", "?", "!", "¿", "،", "。", "-", "#", "=", "@"]

words = st.sampled_from(sorted({word for line in WORDS.values() for word in line.split()}))
cased = st.tuples(words, st.sampled_from([str.lower, str.upper, str.title])).map(lambda pair: pair[1](pair[0]))
numbers = st.from_regex(r"[0-9]{1,24}", fullmatch=True)
tokens = st.one_of(cased, cased, st.sampled_from(MARKER_WORDS), numbers, st.sampled_from(PUNCTUATION))
# Whitespace between words: one to three characters, as the rule tolerates around "ID" and the colon.
joiners = st.sampled_from([" ", " ", "  ", "   ", "\n", " \n", "\u3000", "\u00a0"])


@st.composite
def near_markers(draw: st.DrawFn) -> list[str]:
    """The marker's three parts, each right or slightly wrong: the marker, and the neighbours it must not be mistaken for."""
    right = draw(st.booleans())
    tiktok = (
        [["TikTok"], ["tiktok"], ["TIKTOK"], ["Tik", "Tok"]]
        if right
        else [["TikTok's"], ["MyTikTok"], ["Tik-Tok"], ["Tok", "Tik"]]
    )
    right = draw(st.booleans())
    tag = [["ID", ":"], ["id", ":"], ["ID:"], ["ID", "："]] if right else [["ID"], ["IDs", ":"], ["identity", ":"], ["I D", ":"]]
    tag += [] if right else [["ID", "card", ":"], ["ID", "-"], ["ID", "#"], ["ID", "="], ["ID", ":", ":"]]
    if draw(st.booleans()):
        value = st.from_regex(r"[0-9]{6,64}", fullmatch=True)
    else:
        value = st.from_regex(r"[0-9]{1,5}|[0-9]{65,70}|[0-9]{6,20}[a-z_][0-9a-z]{0,3}", fullmatch=True)
        value |= st.sampled_from(["settings", "sneakerfan99", "entity"])
    return [*draw(st.sampled_from(tiktok)), *draw(st.sampled_from(tag)), draw(value)]


@st.composite
def colonless(draw: st.DrawFn) -> list[str]:
    """A sentence about TikTok: "TikTok", "ID" and an ID-like value without the colon, never a marker."""
    tiktok = draw(st.sampled_from([["TikTok"], ["tiktok"], ["Tik", "Tok"]]))
    tag = draw(st.sampled_from([["ID"], ["id"], ["identity"], ["IDs"], ["ID", "settings"]]))
    value = draw(st.one_of(st.from_regex(r"[0-9]{6,64}", fullmatch=True), st.sampled_from(["settings", "entity", "-", "#"])))
    return [*tiktok, *tag, value]


@st.composite
def sentences(
    draw: st.DrawFn, token: st.SearchStrategy[str] = tokens, fragments: st.SearchStrategy[list[str]] | None = None
) -> tuple[list[str], list[str]]:
    parts = token.map(lambda word: [word]) if fragments is None else st.one_of(token.map(lambda word: [word]), fragments)
    chosen = [word for part in draw(st.lists(parts, min_size=1, max_size=20 if fragments is None else 10)) for word in part]
    return chosen, draw(st.lists(joiners, min_size=len(chosen) - 1, max_size=len(chosen) - 1))


def text_of(words: list[str], gaps: list[str]) -> str:
    return words[0] + "".join(gap + word for gap, word in zip(gaps, words[1:], strict=True))


def marker_id(words: list[str], gaps: list[str]) -> str | None:
    """The documented marker over words: "TikTok" (or "Tik", one space, "Tok"), "ID", ":", then 6 to 64 digits."""
    folded = [unicodedata.normalize("NFKC", word).casefold() for word in words]
    for start in range(len(words)):
        at = start
        if folded[at] == "tiktok":
            at += 1
        elif folded[at : at + 2] == ["tik", "tok"] and len(unicodedata.normalize("NFKC", gaps[at])) == 1:
            at += 2
        else:
            continue
        if folded[at : at + 1] == ["id:"]:
            at += 1
        elif folded[at : at + 2] == ["id", ":"]:
            at += 2
        else:
            continue
        if at < len(words) and words[at].isascii() and words[at].isdigit() and 6 <= len(words[at]) <= 64:
            return words[at]
    return None


@settings(max_examples=300, deadline=None)
@given(sentences(fragments=near_markers()))
def test_a_sentence_yields_an_id_exactly_when_it_carries_the_documented_marker(sentence: tuple[list[str], list[str]]) -> None:
    text = text_of(*sentence)
    assume(len(text) < SCAN_LIMIT)
    expected = marker_id(*sentence)
    event("carries the marker" if expected else "organic")
    assert EXTRACT(text) == expected


@settings(max_examples=200, deadline=None)
@given(sentences(st.one_of(cased, st.sampled_from(["TikTok", "Tik", "Tok", "ID", "identity", "settings"]), numbers), colonless()))
def test_ordinary_sentences_without_a_colon_never_yield_an_id(sentence: tuple[list[str], list[str]]) -> None:
    assert EXTRACT(text_of(*sentence)) is None


INVISIBLE = st.sampled_from(["", "", "\u200b", "\u200d", "\u2060", "\ufeff", "\u200e"])


@st.composite
def markers(draw: st.DrawFn) -> tuple[str, str]:
    """The documented marker as phones send it: any case, "Tik Tok", spaces, a full-width colon, invisible characters."""
    tracking_id = draw(st.from_regex(r"[0-9]{6,64}", fullmatch=True))
    tiktok = draw(st.sampled_from(["TikTok", "tiktok", "TIKTOK", "Tik Tok", "tik tok", "ＴｉｋＴｏｋ"]))
    spaces = st.sampled_from(["", " ", "  ", "   ", "\u3000"])
    parts = [tiktok, draw(spaces), draw(st.sampled_from(["ID", "id", "Id", "ＩＤ"])), draw(spaces)]
    parts += [draw(st.sampled_from([":", "："])), draw(spaces), tracking_id]
    return "".join(part + draw(INVISIBLE) for part in parts), tracking_id


@settings(max_examples=200, deadline=None)
@given(
    sentences(st.one_of(cased, numbers, st.sampled_from(["TikTok", "ID", "identity", "settings", ",", "."]))),
    markers(),
    st.data(),
)
def test_the_marker_in_a_sentence_yields_exactly_its_id(
    sentence: tuple[list[str], list[str]], marker: tuple[str, str], data: st.DataObject
) -> None:
    words, gaps = sentence
    at = data.draw(st.integers(0, len(words)))
    text, tracking_id = marker
    ending = data.draw(st.sampled_from([".", "!", ",", "。", "！", "\n", "", " 谢谢"]))
    around = [" "] * (at > 0) + [" "] * (at < len(words))  # the gap it took is now one on each side
    placed = text_of([*words[:at], text + ending, *words[at:]], [*gaps[: max(at - 1, 0)], *around, *gaps[at:]])
    assert EXTRACT(placed) == tracking_id


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
    assert found == tracking_id or EXTRACT(before + " ") is not None  # an earlier ID in `before` may win
