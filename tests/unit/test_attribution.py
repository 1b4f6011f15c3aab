"""Attribution rules with in-memory fakes."""

from __future__ import annotations

from typing import Any

import pytest

from messaging_partner.domain.attribution import Attribution, first_touch, source_of
from messaging_partner.domain.domain_events import ConversationAttributed
from messaging_partner.domain.errors import DeliveryFailed
from messaging_partner.domain.models import Channel, ConversationSource, InboundMessage, MessageKind, Referral
from tests.fakes import FakeConversationStore, FakePublisher, FakeSignalInputs


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


def attribution() -> tuple[Attribution, FakeConversationStore, FakePublisher, FakeSignalInputs]:
    store, publisher, signals = FakeConversationStore(), FakePublisher(), FakeSignalInputs()
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


def test_a_message_delivered_after_a_later_one_counts_but_leaves_the_last_message_time() -> None:
    """Platforms do not promise order: last_message_at_ms only moves forward."""
    work, store, _, _ = attribution()
    start = 1_749_416_383_000
    for message_id, sent_at_ms in (("m1", start), ("m3", start + 30_000), ("m2", start + 10_000)):
        work.handle(inbound(message_id).model_copy(update={"sent_at_ms": sent_at_ms}))
    [conversation] = store.conversations.values()
    assert conversation.last_message_at_ms == start + 30_000
    assert conversation.customer_message_count == 3
    assert conversation.started_at_ms == start


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
    work = Attribution(store, publisher, FakeSignalInputs(fail=True))
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
    work = Attribution(store, FakePublisher(), FakeSignalInputs(), router)
    late_evening_utc = 1_763_848_800_000  # 2025-11-22 22:00 UTC = 2025-11-23 07:00 in Tokyo
    for n in range(3):
        work.handle(inbound(f"m{n}").model_copy(update={"sent_at_ms": late_evening_utc + n}))
    [conversation] = store.conversations.values()
    assert (conversation.advertiser_id, conversation.day) == ("adv-1", "2025-11-23")
    assert router.calls == 1


def test_unlinked_accounts_are_kept_and_counted_as_unrouted() -> None:
    store = FakeConversationStore()
    work = Attribution(store, FakePublisher(), FakeSignalInputs(), FakeRouter({}))
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


# ---------------------------------------------------------------- conversation events, deauthorization
from messaging_partner.domain.models import (  # noqa: E402
    AccountLinkStatus,
    BusinessGrant,
    ConnectionKind,
    LeadCount,
)
from messaging_partner.domain.tokens import business_account  # noqa: E402
from tests.fakes import FakeAccountStore, FakeCipher  # noqa: E402

EVENT_KINDS = [MessageKind.REACTION, MessageKind.EDIT, MessageKind.DELETION, MessageKind.SYSTEM, MessageKind.UNSUPPORTED]
ROUTE = Route(advertiser_id="adv-1", timezone="UTC")


def routed() -> tuple[Attribution, FakeConversationStore, FakePublisher, FakeSignalInputs]:
    store, publisher, signals = FakeConversationStore(), FakePublisher(), FakeSignalInputs()
    return Attribution(store, publisher, signals, FakeRouter({"106540352242922": ROUTE})), store, publisher, signals


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_conversation_event_alone_opens_nothing_and_counts_nothing(kind: MessageKind) -> None:
    work, store, publisher, _ = routed()
    event = inbound("e1", kind=kind, refers_to="m0")
    assert work.handle(event) == f"event_{kind}"
    assert work.handle(event) == "duplicate"
    work.flush()
    assert store.conversations == {}
    assert store.leads == {}
    assert publisher.published == []
    assert list(store.events) == [(event.conversation_key, "e1")]


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_conversation_event_in_an_open_conversation_is_not_a_customer_message(kind: MessageKind) -> None:
    work, store, _, signals = routed()
    work.handle(inbound("m1"))
    work.handle(inbound("e1", kind=kind, refers_to="m1").model_copy(update={"text": "edited text"}))
    work.flush()
    [conversation] = store.conversations.values()
    assert conversation.customer_message_count == 1
    assert store.leads == {LeadCount("adv-1", conversation.day or "", "ORGANIC"): 1}
    signalled = [(s.message.platform_message_id, s.message.kind) for s in signals.sent]
    assert signalled == [("m1", MessageKind.MESSAGE)]  # events, edits included, fire no keyword signal


def test_counts_come_out_per_kind_for_metrics() -> None:
    work, _, _, _ = routed()
    for index, kind in enumerate(EVENT_KINDS):
        work.handle(inbound(f"e{index}", kind=kind))
    work.handle(inbound("late", kind=MessageKind.REACTION).model_copy(update={"timestamp_note": "no usable timestamp"}))
    assert {k: v for k, v in work.outcomes.items() if k.startswith("event_")} == {
        "event_reaction": 2,
        "event_edit": 1,
        "event_deletion": 1,
        "event_system": 1,
        "event_unsupported": 1,
    }
    assert work.outcomes["redated"] == 1


def business_with_tokens(store: FakeAccountStore) -> None:
    grant = {"access_token": "a", "expires_in": 86400, "refresh_token": "r", "refresh_token_expires_in": 1, "open_id": "biz-1"}
    store.save_business(business_account("biz-1", "acme", BusinessGrant.model_validate(grant), FakeCipher(), 1.0, version=2))


def test_authorization_removed_disconnects_the_business_account_once_and_announces_it() -> None:
    store, publisher = FakeConversationStore(), FakePublisher()
    accounts = FakeAccountStore()
    business_with_tokens(accounts)
    work = Attribution(store, publisher, FakeSignalInputs(), accounts=accounts)
    removed = InboundMessage(
        channel=Channel.TIKTOK,
        business_account_id="biz-1",
        customer_id="",
        platform_message_id="h:removed",
        kind=MessageKind.DEAUTHORIZATION,
        sent_at_ms=1_763_800_000_000,
        detail="the user disconnected the app in TikTok (reason 1)",
    )
    assert work.handle(removed) == "business_disconnected"
    assert work.handle(removed) == "duplicate"
    assert accounts.businesses["biz-1"].status == AccountLinkStatus.DISCONNECTED
    [event] = publisher.published
    assert (event.detail_type, event.kind, event.account_id) == ("AccountNeedsReauth", ConnectionKind.BUSINESS, "biz-1")
    assert "removed this app's access on TikTok (the user disconnected the app in TikTok (reason 1))" in event.reason
    assert store.conversations == {}
    unknown = removed.model_copy(update={"business_account_id": "biz-unknown"})
    assert work.handle(unknown) == "duplicate"


# ---------------------------------------------------------------- one customer, one key (WhatsApp phone and BSUID)
PHONE, BSUID = "16505551234", "US.13491208655302741918"


def from_customer(message_id: str, customer: str, *aliases: str) -> InboundMessage:
    return inbound(message_id, customer=customer).model_copy(update={"customer_aliases": aliases})


@pytest.mark.parametrize(
    ("later_customer", "label"),
    [(PHONE, "later by phone alone"), (BSUID, "later by BSUID alone"), (BSUID, "later by both again")],
)
def test_a_customer_named_by_both_keeps_one_conversation(later_customer: str, label: str) -> None:
    work, store, _, signals = routed()
    work.handle(from_customer("m1", BSUID, PHONE))  # the payload carries both: BSUID keys, the phone is an alias
    later = from_customer("m2", later_customer, *((PHONE,) if label.endswith("both again") else ()))
    assert work.handle(later) == "existing_conversation"
    work.flush()
    [conversation] = store.conversations.values()
    assert (conversation.customer_id, conversation.customer_message_count) == (BSUID, 2)
    assert {s.conversation_key for s in signals.sent} == {conversation.conversation_key}


def test_a_conversation_opened_by_phone_keeps_its_key_when_the_bsuid_appears() -> None:
    """The other direction: a customer known by phone (before BSUIDs), then named by both, then by BSUID alone."""
    work, store, _, _ = routed()
    work.handle(from_customer("m1", PHONE))
    assert work.handle(from_customer("m2", BSUID, PHONE)) == "existing_conversation"
    fresh_container = Attribution(store, FakePublisher(), FakeSignalInputs(), FakeRouter({"106540352242922": ROUTE}))
    assert fresh_container.handle(from_customer("m3", BSUID)) == "existing_conversation"
    [conversation] = store.conversations.values()
    assert (conversation.customer_id, conversation.customer_message_count) == (PHONE, 3)


def test_a_container_remembers_a_customers_key() -> None:
    work, store, _, _ = routed()
    work.handle(from_customer("m1", PHONE))
    for index in range(2, 6):
        work.handle(from_customer(f"m{index}", BSUID, PHONE))
    assert store.lookups == 2  # one as the conversation opened, one when the BSUID first appeared; then memory


def test_a_new_customer_named_by_one_identifier_costs_one_lookup() -> None:
    work, store, _, _ = routed()
    work.handle(from_customer("m1", BSUID))
    assert store.lookups == 1
    assert work.handle(from_customer("m2", BSUID)) == "existing_conversation"
    assert store.lookups == 1  # the conversation's key takes later messages at once


def test_a_changed_number_continues_the_conversation() -> None:
    work, store, _, _ = routed()
    work.handle(from_customer("m1", PHONE))
    notice = from_customer("s1", PHONE, "12195555358").model_copy(
        update={"kind": MessageKind.SYSTEM, "detail": "user_changed_number"}
    )
    work.handle(notice)
    fresh_container = Attribution(store, FakePublisher(), FakeSignalInputs(), FakeRouter({"106540352242922": ROUTE}))
    assert fresh_container.handle(from_customer("m2", "12195555358")) == "existing_conversation"
    assert [c.customer_id for c in store.conversations.values()] == [PHONE]


def test_other_channels_never_look_up_aliases() -> None:
    work, store, _, _ = routed()
    work.handle(inbound("m1").model_copy(update={"channel": Channel.MESSENGER}))
    assert store.lookups == 0


# ---------------------------------------------------------------- sequences that once split or doubled a customer
U, P, Q = "US.123", "16505550001", "16505550002"


def fresh(store: FakeConversationStore) -> Attribution:
    """Another Lambda container: same table, empty memory."""
    return Attribution(store, FakePublisher(), FakeSignalInputs(), FakeRouter({"106540352242922": ROUTE}))


def conversations_of(store: FakeConversationStore) -> dict[str, int]:
    return {c.customer_id: c.customer_message_count for c in store.conversations.values()}


def test_a_payload_naming_both_records_the_alias_when_the_conversation_exists() -> None:
    store = FakeConversationStore()
    fresh(store).handle(from_customer("w1", U))
    fresh(store).handle(from_customer("w2", U, P))
    fresh(store).handle(from_customer("w3", P))
    assert conversations_of(store) == {U: 3}
    assert sum(store.leads.values()) == 1


def test_a_click_naming_both_finds_the_customer_before_opening() -> None:
    store = FakeConversationStore()
    fresh(store).handle(from_customer("w1", P))
    work = fresh(store)
    click = from_customer("w2", U, P).model_copy(
        update={"kind": MessageKind.REFERRAL, "referral": Referral(source="ad", ad_id="1")}
    )
    work.handle(click)
    work.handle(from_customer("w3", P))
    fresh(store).handle(from_customer("w3", P))  # redelivered to another container
    assert conversations_of(store) == {P: 2}
    assert sum(store.leads.values()) == 1


class InterleavedStore(FakeConversationStore):
    """Runs another delivery between this one's lookup and its opening write, once: two FIFO groups racing."""

    def __init__(self, interleave: Any) -> None:
        super().__init__()
        self.interleave = interleave

    def known_customer(self, channel: Any, business_account_id: str, identifiers: Any) -> str | None:
        found = super().known_customer(channel, business_account_id, identifiers)
        if self.interleave is not None:
            interleave, self.interleave = self.interleave, None
            interleave(self)
        return found


def test_two_deliveries_naming_one_customer_differently_open_one_conversation() -> None:
    store = InterleavedStore(lambda store: fresh(store).handle(from_customer("w2", U, P)))
    fresh(store).handle(from_customer("w1", P))  # looks up, finds nothing; meanwhile U (alias P) opens
    assert conversations_of(store) == {U: 2}
    assert sum(store.leads.values()) == 1


def test_an_alias_never_points_at_another_conversation_and_events_follow_their_message() -> None:
    store = FakeConversationStore()
    work = fresh(store)
    work.handle(from_customer("w1", P))
    work.handle(from_customer("w2", Q))  # the new number writes before the notice arrives
    notice = from_customer("sys", P, Q).model_copy(update={"kind": MessageKind.SYSTEM, "detail": "user_changed_number"})
    work.handle(notice)
    assert work.outcomes["alias_conflict"] == 1  # Q keeps its own conversation: no silent merge
    work.handle(from_customer("w3", Q))
    work.handle(from_customer("r1", Q).model_copy(update={"kind": MessageKind.REACTION, "refers_to": "w3"}))
    assert conversations_of(store) == {P: 1, Q: 2}
    assert [key for key, _ in store.events if _ == "r1"] == [f"whatsapp#106540352242922#{Q}"]


def test_an_event_is_kept_once_even_when_its_customer_becomes_known_under_another_key() -> None:
    store = FakeConversationStore()
    reaction = from_customer("r1", P).model_copy(update={"kind": MessageKind.REACTION})
    assert fresh(store).handle(reaction) == "event_reaction"
    fresh(store).handle(from_customer("w1", U, P))
    assert fresh(store).handle(reaction) == "duplicate"
    assert len(store.events) == 1


def test_a_removal_older_than_a_reconnection_changes_nothing() -> None:
    accounts = FakeAccountStore()
    business_with_tokens(accounts)
    removed = InboundMessage(
        channel=Channel.TIKTOK,
        business_account_id="biz-1",
        customer_id="",
        platform_message_id="h:removed",
        kind=MessageKind.DEAUTHORIZATION,
        sent_at_ms=5_000,
    )
    work = Attribution(FakeConversationStore(), FakePublisher(), FakeSignalInputs(), accounts=accounts)
    assert work.handle(removed) == "business_disconnected"
    reconnected = accounts.businesses["biz-1"].model_copy(update={"status": AccountLinkStatus.ACTIVE, "connected_at_ms": 9_000})
    accounts.save_business(reconnected)
    assert work.handle(removed) == "duplicate"  # TikTok redelivers the old notice
    assert accounts.businesses["biz-1"].status == AccountLinkStatus.ACTIVE
