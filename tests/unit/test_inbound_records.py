"""A failed InboundQueue record leaves a trail: its reason logged (never its text), parked, retried or dead-lettered."""

from __future__ import annotations

import json

import pytest

from messaging_partner.domain.attribution import Attribution
from messaging_partner.domain.errors import DeliveryFailed
from messaging_partner.domain.failures import (
    REASON_LIMIT,
    FailureOutcome,
    QueuedRecord,
    RetryLater,
    channel_of,
    failure_reason,
    one_line,
)
from messaging_partner.domain.inbound_records import InboundRecords
from messaging_partner.domain.models import InboundMessage, MessageKind
from messaging_partner.domain.ports import RecordedMessage
from tests.fakes import (
    FakeConversationStore,
    FakeDeadLetters,
    FakeFailureLog,
    FakeParker,
    FakePublisher,
    FakeSignalInputs,
)
from tests.unit.test_attribution import inbound

LAST = 5
SECRET_TEXT = "my card number is 4111 1111 1111 1111"


class Throttled(Exception):
    """Stands in for DynamoDB's ThrottlingException."""


class FlakyStore(FakeConversationStore):
    """A store that refuses writes for some conversations, as a throttled table would."""

    def __init__(self, failing: set[str]) -> None:
        super().__init__()
        self.failing = failing

    def append(self, message: InboundMessage) -> RecordedMessage | None:
        if message.conversation_key in self.failing:
            raise Throttled(f"Rate exceeded writing {message.conversation_key}")
        return super().append(message)


def batch(
    failing: set[str] | None = None, signals: FakeSignalInputs | None = None
) -> tuple[InboundRecords, FlakyStore, FakeParker, FakeDeadLetters, FakeFailureLog]:
    store, parker, dead, log = FlakyStore(failing or set()), FakeParker(), FakeDeadLetters(), FakeFailureLog()
    attribution = Attribution(store, FakePublisher(), signals or FakeSignalInputs())
    return InboundRecords(attribution, parker, dead, log, max_receive_count=LAST), store, parker, dead, log


def queued(message: InboundMessage | str, receive: int = 1, message_id: str | None = None) -> QueuedRecord:
    body = message if isinstance(message, str) else message.model_dump_json(exclude_none=True)
    name = message_id or (message if isinstance(message, str) else message.platform_message_id)[:20]
    return QueuedRecord(message_id=f"sqs-{name}", body=body, receive_count=receive, group_id="whatsapp#1#ana")


def ana(n: int, text: str = "hello") -> InboundMessage:
    return inbound(f"wamid.{n}", customer="ana").model_copy(update={"text": text, "sent_at_ms": 1_749_416_383_000 + n})


def test_an_unreadable_record_is_parked_at_once_and_the_next_of_its_group_is_stored() -> None:
    records, store, parker, dead, log = batch()
    assert records.process(queued("{not json", message_id="poison")) == "parked"
    assert records.process(queued(ana(2))) == "new_conversation"
    [(channel, reason, payload)] = parker.parked
    assert (channel, payload) == ("unknown", b"{not json")
    assert reason.startswith("InboundQueue message sqs-poison: not an inbound message: body: Invalid JSON")
    [failure] = log.failures
    assert (failure.outcome, failure.message_id, failure.receive_count) == (FailureOutcome.PARKED, "sqs-poison", 1)
    assert dead.kept == []
    assert next(iter(store.conversations.values())).customer_message_count == 1


def test_an_invalid_message_is_parked_by_field_and_rule_never_with_its_values() -> None:
    records, _, parker, _, log = batch()
    body = json.loads(ana(1, text=SECRET_TEXT).model_dump_json())
    body |= {"sent_at_ms": SECRET_TEXT, "kind": "whisper"}
    assert records.process(queued(json.dumps(body), message_id="bad")) == "parked"
    [(channel, reason, _)] = parker.parked
    assert channel == "whatsapp"
    assert "kind: Input should be 'message', 'referral'" in reason
    assert "sent_at_ms: Input should be a valid integer" in reason
    assert "4111" not in reason
    assert "4111" not in log.failures[0].reason


def test_a_failure_that_may_pass_goes_back_to_sqs_with_its_reason_logged() -> None:
    records, _, _, dead, log = batch(failing={ana(1).conversation_key})
    with pytest.raises(RetryLater, match="Throttled: Rate exceeded"):
        records.process(queued(ana(1), receive=LAST - 1))
    [failure] = log.failures
    assert failure.outcome is FailureOutcome.RETRIED
    assert (failure.channel, failure.kind, failure.platform_message_id) == ("whatsapp", "message", "wamid.1")
    assert "(at domain/attribution.py:" in failure.reason  # the last line of ours it came through
    assert dead.kept == []


def test_on_its_last_receive_a_failing_record_goes_to_the_dlq_with_its_reason_and_its_group_goes_on() -> None:
    records, store, _, dead, log = batch(failing={ana(1).conversation_key})
    first = queued(ana(1), receive=LAST)
    assert records.process(first) == "dead_lettered"
    [(record, reason)] = dead.kept
    assert record == first
    assert reason.startswith("Throttled: Rate exceeded")
    assert log.failures[0].outcome is FailureOutcome.DEAD_LETTERED
    store.failing.clear()
    assert records.process(queued(ana(2), receive=LAST)) == "new_conversation"


def test_a_refused_dead_letter_goes_back_to_sqs_saying_so() -> None:
    records, _, _, dead, log = batch(failing={ana(1).conversation_key})
    dead.fail = True
    with pytest.raises(RetryLater, match="could not be dead-lettered: DeliveryFailed: dead-letter queue refused"):
        records.process(queued(ana(1), receive=LAST))
    assert log.failures[0].outcome is FailureOutcome.RETRIED


def test_an_unreadable_record_that_cannot_be_parked_is_retried_then_dead_lettered_with_both_reasons() -> None:
    records, _, parker, dead, log = batch()
    parker.fail = True
    with pytest.raises(RetryLater, match="could not be parked"):
        records.process(queued("[]", receive=1))
    assert records.process(queued("[]", receive=LAST)) == "dead_lettered"
    [(_, reason)] = dead.kept
    assert reason.startswith("not an inbound message: body: Input should be an object")
    assert "could not be parked: DeliveryFailed: parked queue refused" in reason
    assert [f.outcome for f in log.failures] == [FailureOutcome.RETRIED, FailureOutcome.DEAD_LETTERED]


def test_a_held_record_is_logged_with_the_failure_that_holds_it() -> None:
    records, _, _, _, log = batch(failing={ana(1).conversation_key})
    with pytest.raises(RetryLater):
        records.process(queued(ana(1), receive=2))
    records.held(queued(ana(2), receive=2))
    held = log.failures[-1]
    assert held.outcome is FailureOutcome.HELD
    assert held.reason.startswith("held behind sqs-wamid.1 of its group (Throttled: Rate exceeded")
    records.held(queued(ana(3), receive=LAST))
    assert log.failures[-1].reason.endswith("its last receive: SQS moves it to the DLQ without a reason")


def test_when_the_batchs_events_cannot_be_sent_its_records_go_back_or_on_their_last_receive_to_the_dlq() -> None:
    records, _, _, dead, log = batch(signals=FakeSignalInputs(fail=True))
    records.process(queued(ana(1), receive=1))
    records.process(queued(ana(2), receive=LAST))
    assert records.flush() == ["sqs-wamid.1"]
    [(record, reason)] = dead.kept
    assert record.message_id == "sqs-wamid.2"
    assert reason.startswith("its events could not be sent: DeliveryFailed: signal queue refused")
    assert [f.outcome for f in log.failures] == [FailureOutcome.RETRIED, FailureOutcome.DEAD_LETTERED]
    assert records.flush() == []  # nothing left to send or fail


def test_an_error_quoting_the_message_text_is_logged_without_it() -> None:
    message = ana(1, text=SECRET_TEXT)
    try:
        raise ValueError(f"could not match {message.text!r} against the patterns")
    except ValueError as error:
        reason = failure_reason(error, message)
    assert "4111" not in reason
    assert "could not match '[message text]' against the patterns" in reason


def test_a_reason_is_one_printable_line_of_bounded_length() -> None:
    assert one_line("first line\nsecond\tthird\x00end") == "first line second third end"
    assert len(one_line("x" * 5000)) == REASON_LIMIT


@pytest.mark.parametrize(
    ("body", "channel"),
    [('{"channel": "tiktok"}', "tiktok"), ('{"channel": "fax"}', "unknown"), ("[]", "unknown"), ('{"channel": []}', "unknown")],
)
def test_the_channel_a_body_names(body: str, channel: str) -> None:
    assert channel_of(body) == channel


def test_a_refused_send_while_handling_a_record_is_a_failure_that_may_pass() -> None:
    records, store, _, _, _ = batch()

    def refuse(message: InboundMessage) -> None:
        raise DeliveryFailed("bus refused")

    store.count_stripped = refuse  # type: ignore[assignment,method-assign]
    stripped = inbound("h:eu", customer="", kind=MessageKind.STRIPPED)
    with pytest.raises(RetryLater, match="bus refused"):
        records.process(queued(stripped))
