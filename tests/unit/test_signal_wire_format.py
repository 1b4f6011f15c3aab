"""Contract tests of the one module that knows how signals look on the wire (Events API 2.0)."""

from __future__ import annotations

import hashlib
import json

import pytest

from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.adapters.tiktok_api.signals import EventsApiSignals, e164
from messaging_partner.domain.keywords import EVENT_PROPERTY_NAMES, keyword_rules
from messaging_partner.domain.models import Channel, OutgoingSignal, SignalKind, SignalRecord, SignalStatus
from tests.unit.test_tiktok_client import ScriptedSession, envelope


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def outgoing(
    kind: SignalKind = SignalKind.KEYWORD,
    signal: str = "payment",
    event: str = "AddPaymentInfo",
    channel: Channel = Channel.WHATSAPP,
    customer_ids: tuple[str, ...] = ("351910000001",),
    **fields: object,
) -> OutgoingSignal:
    record = SignalRecord(
        signal=signal, kind=kind, event=event, status=SignalStatus.QUEUED, event_id="e" * 32, at="2025-11-22T08:26:40Z"
    )
    record = record.model_copy(update={k: fields.pop(k) for k in ("value", "currency") if k in fields})
    return OutgoingSignal(
        advertiser_id="7100000000000000001",
        channel=channel,
        customer_ids=customer_ids,
        record=record,
        occurred_at_ms=1_763_800_000_123,
        **fields,  # type: ignore[arg-type]
    )


API = EventsApiSignals(TikTokClient("https://tt.test/open_api/v1.3/"), "crm")


def test_a_keyword_signal_on_whatsapp() -> None:
    body = API.request_body("7200000000000000001", [outgoing(tracking_id="7412345678901234567", ad_id="179")])
    assert body == {
        "event_source": "crm",
        "event_source_id": "7200000000000000001",
        "data": [
            {
                "event": "AddPaymentInfo",
                "event_time": 1_763_800_000,
                "event_id": "e" * 32,
                "user": {"external_id": [sha("351910000001")], "phone": [sha("+351910000001")]},
                "properties": {"payment": True, "tracking_id": "7412345678901234567", "ad_id": "179"},
            }
        ],
    }


def test_the_conversation_signal_of_a_tiktok_dm_and_a_short_link() -> None:
    [event] = API.request_body(
        "s",
        [outgoing(SignalKind.CONVERSATION, "conversation", "Contact", Channel.TIKTOK, ("tt-ivy",), short_link_ref="vip_2026")],
    )["data"]
    assert event["user"] == {"external_id": [sha("tt-ivy")]}
    assert event["properties"] == {"short_link_ref": "vip_2026"}


def test_an_outcome_carries_its_value() -> None:
    [event] = API.request_body("s", [outgoing(SignalKind.OUTCOME, "outcome:o1", "Purchase", value=19.9, currency="USD")])["data"]
    assert (event["event"], event["properties"]) == ("Purchase", {"value": 19.9, "currency": "USD"})


@pytest.mark.parametrize(
    ("channel", "customer_ids", "phones"),
    [
        (Channel.WHATSAPP, ("US.13491208655302741918", "16505551234"), ["+16505551234"]),  # BSUID and its phone
        (Channel.WHATSAPP, ("US.13491208655302741918",), []),
        (Channel.WHATSAPP, ("123",), []),  # not a number anywhere
        (Channel.MESSENGER, ("6985000000000001",), []),  # a page-scoped id is digits, not a phone
    ],
)
def test_phones_only_as_e164_hashes_and_only_on_whatsapp(
    channel: Channel, customer_ids: tuple[str, ...], phones: list[str]
) -> None:
    [event] = API.request_body("s", [outgoing(channel=channel, customer_ids=customer_ids)])["data"]
    assert event["user"]["external_id"] == [sha(customer_ids[0])]
    assert event["user"].get("phone", []) == [sha(p) for p in phones]


def test_e164() -> None:
    assert (
        e164("351910000001"),
        e164("447911123456"),
        e164("12"),
        e164("\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"),
        e164("+351910000001"),
    ) == (
        "+351910000001",
        "+447911123456",
        None,
        None,
        None,
    )


def test_nothing_unhashed_and_no_text_ever_leaves() -> None:
    signal = outgoing(customer_ids=("US.13491208655302741918", "16505551234"), tracking_id="7412345678901234567")
    wire = json.dumps(API.request_body("s", [signal]))
    for raw in ("US.13491208655302741918", "16505551234", "+16505551234", "7100000000000000001"):
        assert raw not in wire
    assert "text" not in OutgoingSignal.model_fields  # message text cannot even reach the sender


def test_at_most_a_thousand_events_a_request() -> None:
    with pytest.raises(ValueError, match="at most 1000"):
        API.request_body("s", [outgoing()] * 1001)


def test_send_posts_to_event_track_with_the_advertisers_token() -> None:
    session = ScriptedSession([envelope(0, {})])
    api = EventsApiSignals(TikTokClient("https://tt.test/open_api/v1.3/", session=session, sleep=lambda _: None), "crm")  # type: ignore[arg-type]
    api.send("adv-token", "set-1", [outgoing()])
    [call] = session.calls
    assert (call["method"], call["url"], call["headers"]) == (
        "POST",
        "https://tt.test/open_api/v1.3/event/track/",
        {"Access-Token": "adv-token"},
    )
    assert call["json"]["event_source_id"] == "set-1"


def test_a_keyword_signal_can_never_overwrite_another_property() -> None:
    # Every property an event carries besides the keyword's flag is a name keyword lists may not use.
    everything = outgoing(tracking_id="7412345678901234567", ad_id="179", short_link_ref="vip", value=19.9, currency="EUR")
    properties = API.request_body("7200000000000000001", [everything])["data"][0]["properties"]
    assert set(properties) - {"payment"} <= EVENT_PROPERTY_NAMES
    assert keyword_rules({"keywords": [{"keyword": "pay", "signal": "payment"}]})  # the flag's own name is fine
