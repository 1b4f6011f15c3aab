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
        pytest.param(message("contacts", None, contacts=[{"name": {"formatted_name": "Ann"}}]), None, id="contacts"),
        pytest.param(message("order", {"catalog_id": "c1", "product_items": []}), None, id="order"),
    ],
)
def test_every_customer_content_type_becomes_a_message(msg: dict[str, Any], expected_text: str | None) -> None:
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


def test_other_documented_fields_are_recognized() -> None:
    delivery = whatsapp.parse(body({"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}))
    assert delivery.messages == []
    assert delivery.recognized["field:account_update"] == 1


@pytest.mark.parametrize(
    ("the_change", "reason"),
    [
        ({"value": {"event": "X"}}, "change without a field"),
        ({"field": "made_up_field", "value": {"event": "X"}}, "unknown WhatsApp webhook field 'made_up_field'"),
        (change(), "messages change with no messages, statuses or errors"),
    ],
)
def test_a_change_we_do_not_recognise_is_rejected_to_be_parked(the_change: dict[str, Any], reason: str) -> None:
    delivery = whatsapp.parse(body(the_change))
    assert (delivery.messages, [r.reason for r in delivery.rejected]) == ([], [reason])


def test_one_bad_message_does_not_lose_its_neighbours() -> None:
    good = message("text", {"body": "fine"}, id="wamid.good")
    no_id = message("text", {"body": "broken"})
    del no_id["id"]
    unknown = message("poll", {"question": "?"}, id="wamid.poll")
    delivery = whatsapp.parse(body(change([good, no_id, unknown])))
    assert [m.platform_message_id for m in delivery.messages] == ["wamid.good"]
    assert "unknown WhatsApp message type 'poll'" in delivery.rejected[1].reason
    assert len(delivery.rejected) == 2


def test_an_unreadable_timestamp_keeps_the_message_for_the_receipt_time() -> None:
    """0 means the platform gave no usable time: the webhook rule dates it by its receipt and says so."""
    [parsed] = whatsapp.parse(body(change([message("text", {"body": "x"}, timestamp="yesterday")]))).messages
    assert parsed.sent_at_ms == 0


@pytest.mark.parametrize(
    ("timestamp", "expected_ms"),
    [
        ("1749416383", 1_749_416_383_000),  # documented: seconds as a string
        (1749416383, 1_749_416_383_000),  # seconds as a number (Meta's test payloads)
        ("1749416383123", 1_749_416_383_123),  # milliseconds, as relays send
        (1749416383123, 1_749_416_383_123),
        ("1749416383.5", 1_749_416_383_500),
        (1749416383123456, 1_749_416_383_123),  # microseconds
    ],
)
def test_timestamps_by_magnitude(timestamp: object, expected_ms: int) -> None:
    [parsed] = whatsapp.parse(body(change([message("text", {"body": "x"}, timestamp=timestamp)]))).messages
    assert parsed.sent_at_ms == expected_ms


def event_of(msg: dict[str, Any], **change_extra: Any) -> Any:
    [parsed] = whatsapp.parse(body(change([msg], **change_extra))).messages
    return parsed


def test_a_reaction_is_an_event_about_the_message_it_reacts_to() -> None:
    added = event_of(message("reaction", {"message_id": "wamid.BUSINESS", "emoji": "\U0001f44d"}))
    assert (added.kind, added.refers_to, added.detail, added.text) == (MessageKind.REACTION, "wamid.BUSINESS", "added", None)
    removed = event_of(message("reaction", {"message_id": "wamid.BUSINESS"}))  # Meta leaves out the emoji
    assert (removed.kind, removed.detail) == (MessageKind.REACTION, "removed")


def test_an_edit_refers_to_the_original_and_carries_the_new_text() -> None:
    edit = {"original_message_id": "wamid.ORIGINAL", "message": {"type": "text", "text": {"body": "how much? I want to pay"}}}
    parsed = event_of(message("edit", edit, id="wamid.EDIT"))
    assert (parsed.kind, parsed.platform_message_id, parsed.refers_to) == (MessageKind.EDIT, "wamid.EDIT", "wamid.ORIGINAL")
    assert parsed.text == "how much? I want to pay"


def test_a_revoked_message_is_a_deletion_of_the_original() -> None:
    parsed = event_of(message("revoke", {"original_message_id": "wamid.ORIGINAL"}, id="wamid.REVOKE"))
    assert (parsed.kind, parsed.refers_to) == (MessageKind.DELETION, "wamid.ORIGINAL")


def test_a_system_notice_of_a_changed_number_names_the_new_identifiers_as_the_same_customer() -> None:
    system = {"body": "User A changed from 16505551234 to 12195555358", "wa_id": "12195555358", "type": "user_changed_number"}
    msg = message("system", system, id="wamid.SYS")
    value_without_contacts = change([msg], contacts=[])  # documented: system messages carry no contacts
    [parsed] = whatsapp.parse(body(value_without_contacts)).messages
    assert (parsed.kind, parsed.detail) == (MessageKind.SYSTEM, "user_changed_number")
    assert (parsed.customer_id, parsed.customer_aliases) == ("16505551234", ("12195555358",))


def test_unsupported_content_is_an_event_with_metas_reason() -> None:
    errors = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}]
    parsed = event_of(message("unsupported", {"type": "poll"}, errors=errors))
    assert (parsed.kind, parsed.detail) == (MessageKind.UNSUPPORTED, "Message type unknown")


@pytest.mark.parametrize("with_referral", [True, False])
def test_request_welcome_is_an_entry_not_a_message(with_referral: bool) -> None:
    referral = {"source_id": "120226305854810726", "source_type": "ad", "source_url": "https://fb.me/x"}
    msg = message("request_welcome", None, **({"referral": referral} if with_referral else {}))
    parsed = event_of(msg)
    assert parsed.kind is (MessageKind.REFERRAL if with_referral else MessageKind.SYSTEM)
    assert parsed.detail == "request_welcome"


def test_phone_and_bsuid_in_one_payload_are_one_customer() -> None:
    contacts = [{"profile": {"name": "Bea"}, "wa_id": "16505551234", "user_id": "US.13491208655302741918"}]
    parsed = event_of(message("text", {"body": "hi"}), contacts=contacts)
    assert (parsed.customer_id, parsed.customer_aliases) == ("US.13491208655302741918", ("16505551234",))


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
    assert "status" not in delivery.recognized

    not_a_list = change()
    not_a_list["value"]["messages"] = {"id": "wamid.1"}
    delivery = whatsapp.parse(body(not_a_list))
    assert delivery.messages == []
    assert delivery.rejected[0].reason == "messages is not a list"


def test_unsupported_content_after_an_ad_click_is_the_entry_it_is() -> None:
    referral = {"source_id": "120226305854810726", "source_type": "ad", "source_url": "https://fb.me/x"}
    parsed = event_of(
        message("unsupported", {"type": "poll"}, errors=[{"code": 131051, "title": "Message type unknown"}], referral=referral)
    )
    assert (parsed.kind, parsed.detail) == (MessageKind.REFERRAL, "Message type unknown")
