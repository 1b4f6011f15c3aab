"""Attribution rules with in-memory fakes."""

from __future__ import annotations

import pytest

from messaging_partner.domain.attribution import Attribution, first_touch, source_of
from messaging_partner.domain.domain_events import ConversationAttributed
from messaging_partner.domain.errors import DeliveryFailed
from messaging_partner.domain.models import Channel, ConversationSource, InboundMessage, MessageKind, Referral
from tests.fakes import FakeConversationStore, FakePublisher, FakeSignalSender


def inbound(
    message_id: str, customer: str = "16505551234", kind: MessageKind = MessageKind.MESSAGE, **extra: object
) -> InboundMessage:
    return InboundMessage(
        channel=Channel.WHATSAPP,
        business_account_id="106540352242922",
        customer_id=customer,
        platform_message_id=message_id,
        kind=kind,
        sent_at_ms=1_749_416_383_000,
        text="hello",
        **extra,  # type: ignore[arg-type]
    )


def attribution() -> tuple[Attribution, FakeConversationStore, FakePublisher, FakeSignalSender]:
    store, publisher, signals = FakeConversationStore(), FakePublisher(), FakeSignalSender()
    return Attribution(store, publisher, signals), store, publisher, signals


def test_first_message_opens_an_organic_conversation_and_announces_it() -> None:
    work, store, publisher, signals = attribution()
    assert work.handle(inbound("m1")) == "new_conversation"
    work.flush()
    [event] = publisher.published
    assert event.conversation.source is ConversationSource.ORGANIC
    assert event.inbox_line == "16505551234 started the conversation"
    assert [s.message.platform_message_id for s in signals.sent] == ["m1"]
    assert store.conversations[event.conversation.conversation_key].customer_message_count == 1


def test_later_messages_add_signals_but_no_second_announcement() -> None:
    work, store, publisher, signals = attribution()
    for message_id in ("m1", "m2", "m3"):
        work.handle(inbound(message_id))
    work.flush()
    assert len(publisher.published) == 1
    assert len(signals.sent) == 3
    assert signals.calls == 1  # one batched send for the whole SQS batch
    assert next(iter(store.conversations.values())).customer_message_count == 3


def test_redelivered_message_is_not_counted_again_but_re_emits_its_events() -> None:
    work, store, publisher, signals = attribution()
    work.handle(inbound("m1"))
    work.flush()
    assert work.handle(inbound("m1")) == "duplicate"
    work.flush()
    assert next(iter(store.conversations.values())).customer_message_count == 1
    # At least once: the first send may have been lost after the write; event ids make the repeat harmless.
    assert [e.event_id for e in publisher.published] == [publisher.published[0].event_id] * 2
    assert signals.sent[0].event_id == signals.sent[1].event_id


def test_redelivered_later_message_does_not_re_announce_the_conversation() -> None:
    work, _, publisher, _ = attribution()
    work.handle(inbound("m1"))
    work.handle(inbound("m2"))
    work.handle(inbound("m2"))
    work.flush()
    assert len(publisher.published) == 1


@pytest.mark.parametrize("kind", [MessageKind.ECHO, MessageKind.STATUS, MessageKind.READ])
def test_non_conversation_kinds_are_skipped(kind: MessageKind) -> None:
    work, store, publisher, signals = attribution()
    assert work.handle(inbound("m1", kind=kind)) == "skipped_kind"
    work.flush()
    assert store.conversations == {}
    assert publisher.published == []
    assert signals.sent == []


def test_referral_without_message_opens_conversation_with_zero_messages_and_no_signal() -> None:
    work, store, publisher, signals = attribution()
    work.handle(inbound("ref1", kind=MessageKind.REFERRAL))
    work.flush()
    assert next(iter(store.conversations.values())).customer_message_count == 0
    assert len(publisher.published) == 1
    assert signals.sent == []


def test_meta_click_to_chat_referral_is_a_meta_ad_never_tiktok() -> None:
    message = inbound("m1", referral=Referral(source="ad", ad_id="120226305854810726"))
    assert source_of(message) is ConversationSource.META_AD
    conversation = first_touch(message)
    event = ConversationAttributed.for_conversation(conversation)
    assert event.inbox_line == "16505551234 entered the conversation through a Meta ad"


def test_flush_failure_propagates_so_the_batch_is_retried() -> None:
    store, publisher = FakeConversationStore(), FakePublisher()
    work = Attribution(store, publisher, FakeSignalSender(fail=True))
    work.handle(inbound("m1"))
    with pytest.raises(DeliveryFailed):
        work.flush()


def test_flush_with_nothing_sends_nothing() -> None:
    work, _, publisher, signals = attribution()
    work.flush()
    assert publisher.calls == 0
    assert signals.calls == 0


@pytest.mark.parametrize(
    ("channel", "referral", "expected"),
    [
        (Channel.TIKTOK, Referral(source="ad", ad_id="1790000000000001"), ConversationSource.TIKTOK_AD),
        (Channel.TIKTOK, Referral(source="short_link", tracking_ref="vip"), ConversationSource.TIKTOK_SHORT_LINK),
        (Channel.MESSENGER, Referral(source="ADS", ad_id="6045246247433"), ConversationSource.META_AD),
        (Channel.INSTAGRAM, Referral(source="SHORTLINK", tracking_ref="promo"), ConversationSource.ORGANIC),
        (Channel.WHATSAPP, Referral(source="post", ad_id="99"), ConversationSource.ORGANIC),
        (Channel.WHATSAPP, None, ConversationSource.ORGANIC),
    ],
)
def test_source_of_the_first_touch(channel: Channel, referral: Referral | None, expected: ConversationSource) -> None:
    message = inbound("m1", referral=referral).model_copy(update={"channel": channel})
    assert source_of(message) is expected


def test_tiktok_ad_click_opens_an_ad_conversation_before_any_message() -> None:
    work, store, publisher, signals = attribution()
    click = inbound(
        "h:1", kind=MessageKind.REFERRAL, referral=Referral(source="ad", ad_id="1790000000000001", ad_name="Sneakers")
    )
    work.handle(click.model_copy(update={"channel": Channel.TIKTOK}))
    work.flush()
    [conversation] = store.conversations.values()
    assert conversation.source is ConversationSource.TIKTOK_AD
    assert conversation.customer_message_count == 0
    assert signals.sent == []
    assert len(publisher.published) == 1


def test_stripped_eea_event_is_counted_for_its_business_once_and_attributed_to_no_one() -> None:
    work, store, publisher, signals = attribution()
    stripped = inbound("h:eu1", customer="", kind=MessageKind.STRIPPED)
    assert work.handle(stripped) == "stripped"
    assert work.handle(stripped) == "duplicate"
    work.flush()
    assert store.stripped == {"106540352242922": 1}
    assert store.conversations == {}
    assert publisher.published == [] and signals.sent == []  # noqa: PT018 - one fact: nothing emitted


# ---------------------------------------------------------------- routing, tracking IDs, lead buckets
from messaging_partner.domain.leads import lead_bucket, local_day  # noqa: E402
from messaging_partner.domain.models import Route  # noqa: E402


class FakeRouter:
    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes, self.calls = routes, 0

    def route(self, channel: Channel, account_id: str) -> Route | None:
        self.calls += 1
        return self.routes.get(account_id)


def test_tracking_id_in_the_first_whatsapp_message_makes_a_tiktok_ad_conversation() -> None:
    message = inbound("m1").model_copy(update={"text": "TikTok ID: 7412345678901234567. Hello! I came across your ad"})
    conversation = first_touch(message)
    assert (conversation.source, conversation.tracking_id, conversation.ad) == (
        ConversationSource.TIKTOK_AD,
        "7412345678901234567",
        None,
    )
    assert lead_bucket(conversation) == "AD#UNRESOLVED"


def test_a_meta_ad_referral_wins_over_a_tracking_id() -> None:
    message = inbound("m1", referral=Referral(source="ad", ad_id="1")).model_copy(
        update={"text": "TikTok ID: 7412345678901234567."}
    )
    assert first_touch(message).source is ConversationSource.META_AD


def test_tiktok_dm_ad_referral_gives_a_card_at_once() -> None:
    referral = Referral(
        source="ad",
        ad_id="179",
        ad_name="Sneakers",
        media_urls=("https://embed",),
        advertiser_id="adv",
        creative_material_id="mm",
    )
    click = inbound("h:1", kind=MessageKind.REFERRAL, referral=referral).model_copy(update={"channel": Channel.TIKTOK})
    card = first_touch(click).ad
    assert card is not None
    assert (card.ad_id, card.ad_name, card.preview_url, card.is_smart_plus, card.resolved_by) == (
        "179",
        "Sneakers",
        "https://embed",
        True,
        "referral",
    )
    assert lead_bucket(first_touch(click)) == "AD#179"


def test_routing_sets_the_advertiser_and_local_day_once_per_conversation() -> None:
    store, router = FakeConversationStore(), FakeRouter({"106540352242922": Route(advertiser_id="adv-1", timezone="Asia/Tokyo")})
    work = Attribution(store, FakePublisher(), FakeSignalSender(), router)
    late_evening_utc = 1_763_848_800_000  # 2025-11-22 22:00 UTC = 2025-11-23 07:00 in Tokyo
    for n in range(3):
        work.handle(inbound(f"m{n}").model_copy(update={"sent_at_ms": late_evening_utc + n}))
    [conversation] = store.conversations.values()
    assert (conversation.advertiser_id, conversation.day) == ("adv-1", "2025-11-23")
    assert router.calls == 1


def test_unlinked_accounts_are_kept_and_counted_as_unrouted() -> None:
    store = FakeConversationStore()
    work = Attribution(store, FakePublisher(), FakeSignalSender(), FakeRouter({}))
    work.handle(inbound("m1"))
    assert next(iter(store.conversations.values())).advertiser_id is None
    assert work.outcomes["unrouted"] == 1


@pytest.mark.parametrize(
    ("timezone", "day"),
    [("UTC", "2025-11-22"), ("Europe/Lisbon", "2025-11-22"), ("Pacific/Kiritimati", "2025-11-23"), ("Not/AZone", "2025-11-22")],
)
def test_local_day(timezone: str, day: str) -> None:
    assert local_day(1_763_848_800_000, timezone) == day  # 22:00 UTC


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (ConversationSource.ORGANIC, "ORGANIC"),
        (ConversationSource.META_AD, "META_AD"),
        (ConversationSource.TIKTOK_SHORT_LINK, "SHORT_LINK"),
    ],
)
def test_nothing_but_tiktok_ads_credits_tiktok(source: ConversationSource, expected: str) -> None:
    assert lead_bucket(first_touch(inbound("m1")).model_copy(update={"source": source})) == expected
