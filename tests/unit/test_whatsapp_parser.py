"""WhatsApp Cloud API payloads in their documented shapes (reference/meta_and_peers.md A1.3-A1.5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from messaging_partner.adapters.channels import whatsapp
from messaging_partner.domain.errors import UnparseablePayload
from messaging_partner.domain.models import Channel, MessageKind

PHONE_NUMBER_ID = "106540352242922"


def body(*changes: dict[str, Any], entries: list[dict[str, Any]] | None = None) -> bytes:
    entry_list = entries if entries is not None else [{"id": "102290129340398", "changes": list(changes)}]
    return json.dumps({"object": "whatsapp_business_account", "entry": entry_list}).encode()


def change(
    messages: list[dict[str, Any]] | None = None, contacts: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages is not None:
        value["messages"] = messages
        value["contacts"] = contacts if contacts is not None else [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}]
    value.update(extra)
    return {"value": value, "field": "messages"}


def message(message_type: str, content: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "from": "16505551234",
        "id": f"wamid.{message_type}",
        "timestamp": "1749416383",
        "type": message_type,
    }
    if content is not None:
        result[message_type] = content
    result.update(extra)
    return result


DOCUMENTED_EXAMPLE = (
    b'{ "object": "whatsapp_business_account", "entry": [ { "id": "102290129340398", "changes": [ { "value": {'
    b'"messaging_product": "whatsapp",'
    b'"metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },'
    b'"contacts": [ { "profile": { "name": "Sheena Nelson" }, "wa_id": "16505551234" } ],'
    b'"messages": [ { "from": "16505551234", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",'
    b'"timestamp": "1749416383", "type": "text", "text": { "body": "Does it come in another color?" } } ]'
    b'}, "field": "messages" } ] } ] }'
)


def test_documented_example() -> None:
    [parsed] = whatsapp.parse(DOCUMENTED_EXAMPLE).messages
    assert parsed.channel is Channel.WHATSAPP
    assert parsed.business_account_id == PHONE_NUMBER_ID
    assert parsed.customer_id == "16505551234"
    assert parsed.platform_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert parsed.kind is MessageKind.MESSAGE
    assert parsed.sent_at_ms == 1_749_416_383_000
    assert parsed.text == "Does it come in another color?"
    assert parsed.conversation_key == f"whatsapp#{PHONE_NUMBER_ID}#16505551234"


@pytest.mark.parametrize(
    ("msg", "expected_text"),
    [
        pytest.param(message("text", {"body": "hola"}), "hola", id="text"),
        pytest.param(
            message("image", {"id": "m1", "mime_type": "image/jpeg", "caption": "this one"}), "this one", id="image caption"
        ),
        pytest.param(message("image", {"id": "m1", "mime_type": "image/jpeg"}), None, id="image without caption"),
        pytest.param(message("video", {"id": "m2", "caption": "look"}), "look", id="video caption"),
        pytest.param(message("document", {"id": "m3", "caption": "invoice", "filename": "a.pdf"}), "invoice", id="document"),
        pytest.param(message("audio", {"id": "m4", "voice": True}), None, id="audio"),
        pytest.param(message("sticker", {"id": "m5"}), None, id="sticker"),
        pytest.param(message("location", {"latitude": 38.7, "longitude": -9.1, "name": "Shop"}), None, id="location"),
        pytest.param(message("button", {"payload": "YES", "text": "Yes please"}), "Yes please", id="button"),
        pytest.param(
            message("interactive", {"type": "button_reply", "button_reply": {"id": "b1", "title": "Track order"}}),
            "Track order",
            id="interactive button_reply",
        ),
        pytest.param(
            message("interactive", {"type": "list_reply", "list_reply": {"id": "l1", "title": "Size 42", "description": "EU"}}),
            "Size 42",
            id="interactive list_reply",
        ),
        pytest.param(message("reaction", {"message_id": "wamid.X", "emoji": "\U0001f44d"}), None, id="reaction"),
        pytest.param(message("unsupported", None, errors=[{"code": 131051}]), None, id="unsupported type"),
    ],
)
def test_every_message_type_becomes_a_message(msg: dict[str, Any], expected_text: str | None) -> None:
    [parsed] = whatsapp.parse(body(change([msg]))).messages
    assert parsed.kind is MessageKind.MESSAGE
    assert parsed.text == expected_text


def test_referral_on_a_non_text_message() -> None:
    referral = {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": "120226305854810726",
        "source_type": "ad",
        "headline": "Chat with us",
        "media_type": "video",
        "video_url": "https://video.example/ad.mp4",
        "thumbnail_url": "https://video.example/thumb.jpg",
        "ctwa_clid": "Aff-n8ZTODiE79d22K",
    }
    [parsed] = whatsapp.parse(body(change([message("location", {"latitude": 1, "longitude": 2}, referral=referral)]))).messages
    assert parsed.referral is not None
    assert parsed.referral.ad_id == "120226305854810726"
    assert parsed.referral.ad_name == "Chat with us"
    assert parsed.referral.click_id == "Aff-n8ZTODiE79d22K"
    assert parsed.referral.media_urls == ("https://video.example/ad.mp4", "https://video.example/thumb.jpg")


def test_status_placement_referral_without_click_id() -> None:
    referral = {"source_id": "1", "source_type": "ad", "source_url": "https://fb.me/x"}
    [parsed] = whatsapp.parse(body(change([message("text", {"body": "hi"}, referral=referral)]))).messages
    assert parsed.referral is not None
    assert parsed.referral.click_id is None


def test_bsuid_contact_without_phone() -> None:
    msg = {
        "from_user_id": "BR.1502576394655843",
        "id": "wamid.B",
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": "oi"},
    }
    contacts = [{"profile": {"name": "Bea", "username": "bea"}, "user_id": "BR.1502576394655843"}]
    [parsed] = whatsapp.parse(body(change([msg], contacts=contacts))).messages
    assert parsed.customer_id == "BR.1502576394655843"


def test_bsuid_preferred_over_phone_when_both_present() -> None:
    contacts = [{"profile": {"name": "Bea"}, "wa_id": "16505551234", "user_id": "US.13491208655302741918"}]
    [parsed] = whatsapp.parse(body(change([message("text", {"body": "hi"})], contacts=contacts))).messages
    assert parsed.customer_id == "US.13491208655302741918"


def test_contact_matched_by_sender_among_several() -> None:
    contacts = [{"wa_id": "111", "user_id": "US.111"}, {"wa_id": "16505551234", "user_id": "US.222"}]
    [parsed] = whatsapp.parse(body(change([message("text", {"body": "hi"})], contacts=contacts))).messages
    assert parsed.customer_id == "US.222"


def test_every_entry_and_change() -> None:
    first = change([message("text", {"body": "a"}, id="wamid.1"), message("text", {"body": "b"}, id="wamid.2")])
    second = change([message("text", {"body": "c"}, id="wamid.3")])
    third = change([message("text", {"body": "d"}, id="wamid.4")])
    entries = [{"id": "waba", "changes": [first, second]}, {"id": "waba", "changes": [third]}]
    parsed = whatsapp.parse(body(entries=entries)).messages
    assert [m.platform_message_id for m in parsed] == ["wamid.1", "wamid.2", "wamid.3", "wamid.4"]


def test_statuses_and_errors_are_counted_not_messages() -> None:
    statuses = [{"id": "wamid.OUT", "status": "delivered", "timestamp": "1750857384", "recipient_id": "5516992318222"}]
    errors = [{"code": 131000, "title": "Something went wrong"}]
    delivery = whatsapp.parse(body(change(statuses=statuses), change(errors=errors)))
    assert delivery.messages == []
    assert delivery.recognized["status"] == 1
    assert delivery.recognized["error"] == 1


def test_other_fields_are_recognized() -> None:
    delivery = whatsapp.parse(body({"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}))
    assert delivery.messages == []
    assert delivery.recognized["field:account_update"] == 1


def test_one_bad_message_does_not_lose_its_neighbours() -> None:
    good = message("text", {"body": "fine"}, id="wamid.good")
    no_id = message("text", {"body": "broken"})
    del no_id["id"]
    bad_time = message("text", {"body": "x"}, id="wamid.t", timestamp="yesterday")
    delivery = whatsapp.parse(body(change([good, no_id, bad_time])))
    assert [m.platform_message_id for m in delivery.messages] == ["wamid.good"]
    assert len(delivery.rejected) == 2


def test_change_without_phone_number_id_is_rejected_not_dropped() -> None:
    broken = {"field": "messages", "value": {"messages": [message("text", {"body": "x"})]}}
    delivery = whatsapp.parse(body(broken))
    assert delivery.messages == []
    assert delivery.rejected[0].reason == "messages change without metadata.phone_number_id"


@pytest.mark.parametrize(
    ("raw", "reason_start"),
    [
        (b"not json", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b"[1, 2]", "body is JSON but not an object"),
        (b'{"object": "page", "entry": []}', "object is 'page'"),
        (b'{"object": "whatsapp_business_account"}', "entry is missing"),
    ],
)
def test_unparseable(raw: bytes, reason_start: str) -> None:
    with pytest.raises(UnparseablePayload) as error:
        whatsapp.parse(raw)
    assert error.value.reason.startswith(reason_start)


def test_non_list_arrays_do_not_crash_the_parser() -> None:
    """Found by the property tests: every documented array may arrive as something else."""
    weird = change([message("text", {"body": "ok"})], contacts=7)  # type: ignore[arg-type]
    weird["value"].update(statuses="x", errors={"code": 1})
    delivery = whatsapp.parse(body(weird))
    assert [m.text for m in delivery.messages] == ["ok"]
    assert delivery.recognized["status"] == 0

    not_a_list = change()
    not_a_list["value"]["messages"] = {"id": "wamid.1"}
    delivery = whatsapp.parse(body(not_a_list))
    assert delivery.messages == []
    assert delivery.rejected[0].reason == "messages is not a list"
