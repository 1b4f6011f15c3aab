"""Which signals fire, once each, and what becomes of them: the signal worker with fakes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from messaging_partner.domain.domain_events import ConversationAttributed, MessageReceived, OutcomeReported
from messaging_partner.domain.errors import (
    ADVERTISER_TOKEN_REVOKED,
    AdvertiserUnavailable,
    TikTokApiError,
    TikTokTransportError,
)
from messaging_partner.domain.models import (
    AdReference,
    Channel,
    Conversation,
    ConversationSource,
    InboundMessage,
    KeywordList,
    KeywordRule,
    MessageKind,
    Route,
    SignalKind,
    SignalStatus,
)
from messaging_partner.domain.signals import (
    MAX_EVENTS_PER_REQUEST,
    MAX_OUTCOMES_PER_CONVERSATION,
    InvalidOutcome,
    SignalEvents,
    SignalWorker,
    outcome_request,
    report_outcome,
    signal_event_id,
)
from tests.fakes import FakeKeywordLists, FakeLedger, FakeSignalInputs, FakeTikTokSignals

ADV, WA = "adv-1", "106540352242922"
NOW = 1_763_800_000.0
EVENTS = SignalEvents({"conversation": "Contact", "payment": "AddPaymentInfo", "*": "Lead"})


class Routes:
    def route(self, channel: Channel, account_id: str) -> Route | None:
        return Route(advertiser_id=ADV) if account_id == WA else None


@dataclass
class Tokens:
    unavailable: bool = False
    event_set: str | None = "set-1"
    rejected_codes: list[int] = field(default_factory=list)
    reconnected: bool = False  # the refused token is no longer the stored one

    def token(self, advertiser_id: str) -> str:
        if self.unavailable:
            raise AdvertiserUnavailable("Ad account adv-1 needs re-authorization; connect it again.")
        return "adv-token"

    def rejected(self, advertiser_id: str, error: TikTokApiError) -> bool:
        self.rejected_codes.append(error.code)
        return error.code in ADVERTISER_TOKEN_REVOKED and not self.reconnected

    def event_set_id(self, advertiser_id: str) -> str | None:
        return self.event_set


def conversation(customer: str = "351910000001", **fields: object) -> Conversation:
    values: dict[str, object] = {
        "conversation_key": f"whatsapp#{WA}#{customer}",
        "channel": Channel.WHATSAPP,
        "business_account_id": WA,
        "customer_id": customer,
        "source": ConversationSource.ORGANIC,
        "advertiser_id": ADV,
        "started_at_ms": int(NOW * 1000),
        "last_message_at_ms": int(NOW * 1000),
    }
    values.update(fields)
    return Conversation.model_validate(values)


def said(
    text: str, message_id: str = "m1", customer: str = "351910000001", kind: MessageKind = MessageKind.MESSAGE
) -> MessageReceived:
    message = InboundMessage(
        channel=Channel.WHATSAPP,
        business_account_id=WA,
        customer_id=customer,
        platform_message_id=message_id,
        kind=kind,
        sent_at_ms=int(NOW * 1000),
        text=text,
    )
    return MessageReceived.for_message(message)


@dataclass
class Setup:
    worker: SignalWorker
    ledger: FakeLedger
    tiktok: FakeTikTokSignals
    tokens: Tokens
    lists: FakeKeywordLists


def setup(*conversations: Conversation, tokens: Tokens | None = None) -> Setup:
    ledger = FakeLedger({c.conversation_key: c for c in conversations or (conversation(),)})
    tiktok, lists = FakeTikTokSignals(), FakeKeywordLists()
    rules = (KeywordRule(keyword="pay", signal="payment"), KeywordRule(keyword="how much", signal="price"))
    lists.lists[ADV] = KeywordList(advertiser_id=ADV, version=3, keywords=rules, updated_at_ms=1)
    tokens = tokens or Tokens()
    worker = SignalWorker(Routes(), lists, ledger, tokens, tiktok, EVENTS, clock=lambda: NOW)
    return Setup(worker, ledger, tiktok, tokens, lists)


def statuses(ledger: FakeLedger) -> dict[str, SignalStatus]:
    return {signal: record.status for (_, signal), record in ledger.records.items()}


def sent(tiktok: FakeTikTokSignals) -> list[tuple[str, str]]:
    return [(s.record.signal, s.record.event) for _, _, signals in tiktok.requests for s in signals]


def test_a_keyword_fires_its_signal_once_whatever_the_redeliveries() -> None:
    work = setup()
    work.worker.take("r1", said("How much? I want to pay"))
    work.worker.take("r2", said("How much? I want to pay"))  # a redelivery in the same batch
    work.worker.send()
    assert sent(work.tiktok) == [("payment", "AddPaymentInfo"), ("price", "Lead")]
    assert statuses(work.ledger) == {"payment": SignalStatus.SENT, "price": SignalStatus.SENT}
    later = SignalWorker(Routes(), work.lists, work.ledger, work.tokens, work.tiktok, EVENTS, clock=lambda: NOW + 60)
    later.take("r3", said("pay pay pay", message_id="m2"))  # a later message with the same keyword
    later.send()
    assert len(work.tiktok.requests) == 1
    assert later.outcomes["already_signalled"] == 1


def test_a_message_that_matches_nothing_touches_no_table() -> None:
    work = setup()
    work.worker.take("r1", said("hello there"))
    work.worker.send()
    assert (work.ledger.reads, work.ledger.writes, work.tiktok.requests, work.worker.outcomes["no_match"]) == (0, 0, [], 1)


def test_a_fired_signal_is_one_read_and_one_conditional_write() -> None:
    work = setup()
    work.worker.take("r1", said("How much? I want to pay"))  # two signals from one conversation
    work.worker.send()
    assert (work.ledger.reads, work.ledger.writes) == (1, 2)  # one read for the conversation, one write per signal


@pytest.mark.parametrize(
    "kind", [MessageKind.ECHO, MessageKind.READ, MessageKind.STATUS, MessageKind.STRIPPED, MessageKind.EDIT, MessageKind.REACTION]
)
def test_only_customer_messages_are_matched(kind: MessageKind) -> None:
    work = setup()
    work.worker.take("r1", said("I want to pay", kind=kind))
    work.worker.send()
    assert (work.ledger.reads, work.tiktok.requests) == (0, [])


def test_the_matcher_is_compiled_once_per_list_version() -> None:
    work = setup()
    for index in range(3):
        work.worker.take(f"r{index}", said("hello", message_id=f"m{index}"))
    assert list(work.worker.matchers) == [(ADV, 3)]


def test_a_keyword_signal_carries_the_tracking_id_when_the_conversation_has_one() -> None:
    tracked = conversation(tracking_id="7412345678901234567", source=ConversationSource.TIKTOK_AD, ad=AdReference(ad_id="179"))
    work = setup(tracked)
    work.worker.take("r1", said("pay now"))
    work.worker.send()
    [(_, event_set, [signal])] = work.tiktok.requests
    assert (event_set, signal.tracking_id, signal.ad_id) == ("set-1", "7412345678901234567", "179")
    assert signal.record.event_id == signal_event_id(ADV, tracked.conversation_key, "payment")


@pytest.mark.parametrize(
    ("source", "fires"),
    [
        (ConversationSource.TIKTOK_AD, True),
        (ConversationSource.TIKTOK_SHORT_LINK, True),
        (ConversationSource.META_AD, False),
        (ConversationSource.ORGANIC, False),
    ],
)
def test_the_conversation_signal_fires_once_for_conversations_from_tiktok(source: ConversationSource, fires: bool) -> None:
    opened = conversation(source=source, tracking_id="7412345678901234567" if source is ConversationSource.TIKTOK_AD else None)
    work = setup(opened)
    attributed = ConversationAttributed.for_conversation(opened)
    work.worker.take("r1", attributed)
    work.worker.take("r2", attributed)
    work.worker.send()
    assert sent(work.tiktok) == ([("conversation", "Contact")] if fires else [])


def test_signals_of_one_ad_account_go_in_one_request_per_thousand() -> None:
    customers = [conversation(customer=f"35191{index:07d}") for index in range(MAX_EVENTS_PER_REQUEST + 5)]
    work = setup(*customers)
    for index, c in enumerate(customers):
        work.worker.take(f"r{index}", said("pay", message_id=f"m{index}", customer=c.customer_id))
    work.worker.send()
    assert [len(signals) for _, _, signals in work.tiktok.requests] == [MAX_EVENTS_PER_REQUEST, 5]
    assert work.worker.requests == 2


@pytest.mark.parametrize(
    "failure", [TikTokApiError(40100, "slow down"), TikTokApiError(50000, "system"), TikTokTransportError("timeout")]
)
def test_throttling_system_errors_and_timeouts_retry_the_input_and_the_retry_sends(failure: Exception) -> None:
    work = setup()
    work.tiktok.refuse.append(failure)
    work.worker.take("r1", said("pay now"))
    work.worker.send()
    assert work.worker.must_retry("r1")
    assert statuses(work.ledger) == {}  # nothing recorded: the retry sends
    retry = SignalWorker(Routes(), work.lists, work.ledger, work.tokens, work.tiktok, EVENTS, clock=lambda: NOW + 1)
    retry.take("r1", said("pay now"))
    retry.send()
    assert not retry.must_retry("r1")
    assert (sent(work.tiktok), statuses(work.ledger)) == ([("payment", "AddPaymentInfo")], {"payment": SignalStatus.SENT})


def test_two_workers_racing_on_one_signal_send_one_event_and_record_it_once() -> None:
    work = setup()
    other = SignalWorker(Routes(), work.lists, work.ledger, work.tokens, work.tiktok, EVENTS, clock=lambda: NOW + 1)
    work.worker.take("r1", said("pay now"))
    other.take("r2", said("pay now", message_id="m2"))  # both read before either records
    work.worker.send()
    other.send()
    [first, second] = [signals[0].record.event_id for _, _, signals in work.tiktok.requests]
    assert first == second  # the same event id: TikTok keeps one event
    assert (statuses(work.ledger), other.outcomes["recorded_by_another_worker"]) == ({"payment": SignalStatus.SENT}, 1)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (40001, "TikTok refused the signal (code 40001): No permission"),
        (40002, "TikTok refused the signal (code 40002): bad event"),
        (40105, "TikTok no longer accepts this ad account's token (code 40105): reconnect the ad account."),
    ],
)
def test_permanent_refusals_are_recorded_not_retried(code: int, reason: str) -> None:
    work = setup()
    work.tiktok.refuse.append(TikTokApiError(code, "No permission" if code == 40001 else "bad event"))
    work.worker.take("r1", said("pay now"))
    work.worker.send()
    [record] = work.ledger.records.values()
    assert (record.status, record.reason, work.worker.must_retry("r1")) == (SignalStatus.FAILED, reason, False)
    assert work.tokens.rejected_codes == ([40105] if code == 40105 else [])


def test_without_an_event_set_the_signal_fails_with_what_to_do() -> None:
    work = setup(tokens=Tokens(event_set=None))
    work.worker.take("r1", said("pay now"))
    work.worker.send()
    [record] = work.ledger.records.values()
    assert record.status is SignalStatus.FAILED
    assert "grant CTX Events Management" in (record.reason or "")


def test_an_ad_account_needing_reauthorization_skips_its_signals() -> None:
    work = setup(tokens=Tokens(unavailable=True))
    work.worker.take("r1", said("pay now"))
    work.worker.send()
    [record] = work.ledger.records.values()
    assert (record.status, work.tiktok.requests) == (SignalStatus.SKIPPED, [])


@pytest.mark.parametrize("advertiser_id", [None, "adv-old"])
def test_a_conversation_of_another_ad_account_fires_nothing_of_this_list(advertiser_id: str | None) -> None:
    # Opened before its chat account was linked (None), or while it was linked to another ad account:
    # adv-1's keywords are not for it, nor is adv-old's event set to hear of adv-1's keywords.
    work = setup(conversation(advertiser_id=advertiser_id))
    work.worker.take("r1", said("pay now"))
    work.worker.send()
    assert (work.ledger.records, work.tiktok.requests, work.ledger.writes) == ({}, [], 0)
    assert work.worker.outcomes["belongs_to_another_ad_account"] == 1


def test_a_token_refused_after_a_reconnection_is_retried_not_failed() -> None:
    work = setup(tokens=Tokens(reconnected=True))
    work.tiktok.refuse.append(TikTokApiError(40105, "Access token invalid"))
    work.worker.take("r1", said("pay now"))
    work.worker.send()
    assert (work.ledger.records, work.worker.must_retry("r1")) == ({}, True)


@pytest.mark.parametrize("first_try", ["refused", "unavailable"])
def test_a_failed_or_skipped_signal_is_sent_by_the_next_message_that_fires_it(first_try: str) -> None:
    work = setup(tokens=Tokens(unavailable=first_try == "unavailable"))
    if first_try == "refused":
        work.tiktok.refuse.append(TikTokApiError(40001, "No permission"))
    work.worker.take("r1", said("pay now"))
    work.worker.send()
    assert statuses(work.ledger) == {"payment": SignalStatus.FAILED if first_try == "refused" else SignalStatus.SKIPPED}
    work.tokens.unavailable = False  # permission granted, or the ad account connected again
    later = SignalWorker(Routes(), work.lists, work.ledger, work.tokens, work.tiktok, EVENTS, clock=lambda: NOW + 60)
    later.take("r2", said("can I pay by card?", message_id="m2"))
    later.send()
    assert statuses(work.ledger) == {"payment": SignalStatus.SENT}
    again = SignalWorker(Routes(), work.lists, work.ledger, work.tokens, work.tiktok, EVENTS, clock=lambda: NOW + 120)
    again.take("r3", said("pay again", message_id="m3"))
    again.send()
    assert (again.outcomes["already_signalled"], len(work.tiktok.requests)) == (1, 1)  # sent is final: one event


def test_an_outcome_is_queued_once_and_sent_once() -> None:
    work, inputs = setup(), FakeSignalInputs()
    request = outcome_request({"outcome_id": "order-42", "event": "Purchase", "value": 19.9, "currency": "USD"})
    record, first = report_outcome(conversation(), request, work.ledger, inputs, int(NOW * 1000))
    again, second = report_outcome(
        conversation(), outcome_request({"outcome_id": "order-42", "event": "Lead"}), work.ledger, inputs, 0
    )
    assert (first, second, again.event, record.status) == (True, False, "Purchase", SignalStatus.QUEUED)
    for index, reported in enumerate(inputs.sent):  # queued twice: a call that could not enqueue is retried
        assert isinstance(reported, OutcomeReported)
        work.worker.take(f"r{index}", reported)
    work.worker.send()
    [(_, _, [signal])] = work.tiktok.requests
    assert (signal.record.kind, signal.record.event, signal.record.value, signal.record.currency) == (
        SignalKind.OUTCOME,
        "Purchase",
        19.9,
        "USD",
    )
    assert statuses(work.ledger) == {"outcome:order-42": SignalStatus.SENT}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("nope", "The body must be"),
        ({"event": "Purchase"}, "outcome_id must be"),
        ({"outcome_id": "a b", "event": "Purchase"}, "outcome_id must be"),
        ({"outcome_id": "o1", "event": "Bought"}, "event must be a TikTok standard event: AddPaymentInfo, AddToCart"),
        ({"outcome_id": "o1", "event": "Purchase", "value": -1, "currency": "USD"}, "value must be a number from 0"),
        ({"outcome_id": "o1", "event": "Purchase", "value": True, "currency": "USD"}, "value must be a number from 0"),
        ({"outcome_id": "o1", "event": "Purchase", "value": 5}, "A value needs its currency"),
        ({"outcome_id": "o1", "event": "Purchase", "value": 5, "currency": "usd"}, "A value needs its currency"),
        ({"outcome_id": "o1", "event": "Purchase", "currency": "USD"}, "A currency without a value"),
        ({"outcome_id": "o1", "event": ["Purchase"]}, "event must be a TikTok standard event"),
        ({"outcome_id": "o1", "event": {"x": 1}}, "event must be a TikTok standard event"),
        ({"outcome_id": "o1", "event": "Purchase", "value": 1e-200, "currency": "USD"}, "value must be a number from 0"),
        ({"outcome_id": "o1", "event": "Purchase", "value": 0.1234567, "currency": "USD"}, "value must be a number from 0"),
        ({"outcome_id": "o1", "event": "Purchase", "value": 1e12, "currency": "USD"}, "value must be a number from 0"),
    ],
)
def test_outcome_requests_are_checked(body: object, message: str) -> None:
    with pytest.raises(InvalidOutcome) as refused:
        outcome_request(body)
    assert str(refused.value).startswith(message)


def test_amounts_with_up_to_six_decimals_are_taken() -> None:
    for value in (0, 19.9, 0.000001, 999_999_999_999.5):
        assert outcome_request({"outcome_id": "o", "event": "Purchase", "value": value, "currency": "USD"}).value == value


def test_a_conversation_keeps_at_most_a_hundred_outcomes() -> None:
    ledger, inputs = FakeLedger({conversation().conversation_key: conversation()}), FakeSignalInputs()
    for n in range(MAX_OUTCOMES_PER_CONVERSATION):
        report_outcome(conversation(), outcome_request({"outcome_id": f"o{n}", "event": "Lead"}), ledger, inputs, 0)
    _, first = report_outcome(conversation(), outcome_request({"outcome_id": "o0", "event": "Lead"}), ledger, inputs, 0)
    assert first is False  # an outcome it holds still answers with itself
    with pytest.raises(InvalidOutcome) as refused:
        report_outcome(conversation(), outcome_request({"outcome_id": "one-more", "event": "Lead"}), ledger, inputs, 0)
    assert (refused.value.status, str(refused.value)) == (
        409,
        "This conversation already has 100 outcomes, as many as one conversation keeps.",
    )


def test_an_outcome_for_an_unrouted_conversation_is_refused() -> None:
    with pytest.raises(InvalidOutcome) as refused:
        report_outcome(
            conversation(advertiser_id=None),
            outcome_request({"outcome_id": "o", "event": "Lead"}),
            FakeLedger(),
            FakeSignalInputs(),
            0,
        )
    assert refused.value.status == 409


def test_signal_events_must_be_tiktok_standard_events() -> None:
    with pytest.raises(ValueError, match="unknown: Paid"):
        SignalEvents({"conversation": "Contact", "payment": "Paid", "*": "Lead"})
    with pytest.raises(ValueError, match="name one for '\\*'"):
        SignalEvents({"conversation": "Contact"})
