from __future__ import annotations

import pytest

from messaging_partner.adapters.channels.meta import answer_handshake, hub_signature, verify_hub_signature

# The published X-Hub-Signature-256 test vector (GitHub's webhook docs use the same scheme).
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_published_vector() -> None:
    assert hub_signature(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    assert verify_hub_signature(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        pytest.param("wrong secret", VECTOR_BODY, VECTOR_SIGNATURE, id="wrong secret"),
        pytest.param(VECTOR_SECRET, b"Hello, World!\n", VECTOR_SIGNATURE, id="one byte more"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, None, id="missing header"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, "", id="empty header"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE.removeprefix("sha256="), id="no sha256= prefix"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, "sha1=" + VECTOR_SIGNATURE[7:], id="sha1 prefix"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE[:-1], id="truncated"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, "sha256=", id="prefix only"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, "sha256=\u00e9" + VECTOR_SIGNATURE[8:], id="non-ASCII"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE + "," + VECTOR_SIGNATURE, id="two values joined"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE + " ", id="trailing space"),
        pytest.param(VECTOR_SECRET, VECTOR_BODY, "SHA256=" + VECTOR_SIGNATURE[7:], id="uppercase prefix"),
    ],
)
def test_refuses(secret: str, body: bytes, header: str | None) -> None:
    assert not verify_hub_signature(secret, body, header)


def test_uppercase_hex_is_the_same_signature() -> None:
    assert verify_hub_signature(VECTOR_SECRET, VECTOR_BODY, "sha256=" + VECTOR_SIGNATURE[7:].upper())


def test_signature_is_over_raw_bytes_not_reserialized_json() -> None:
    spaced = b'{"a": 1}'
    compact = b'{"a":1}'
    assert not verify_hub_signature("s", compact, hub_signature("s", spaced))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}, "1158201444"),
        ({"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1158201444"}, None),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1"}, None),
        ({"hub.mode": "subscribe", "hub.verify_token": "tok"}, None),
        ({"hub_mode": "subscribe", "hub_verify_token": "tok", "hub_challenge": "1"}, None),
        ({}, None),
    ],
)
def test_handshake(query: dict[str, str], expected: str | None) -> None:
    assert answer_handshake(query, "tok") == expected


@pytest.mark.parametrize("token", ["t\u00f6k", "\ud800", "\x00"])
def test_a_handshake_token_of_any_text_is_refused_not_a_crash(token: str) -> None:
    assert answer_handshake({"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1"}, "tok") is None
