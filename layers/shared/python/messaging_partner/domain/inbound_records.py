"""InboundQueue records through attribution, and each one that fails to where it belongs, with its reason.

InboundQueue is FIFO: a conversation's records are processed in order, so a failed record holds
the later records of its group until it succeeds or is put aside. Every failure is logged with
its reason (FailureLog; never the text), and:

- unreadable (not an InboundMessage): it would fail on every receive, so it is parked at once
  (ParkedQueue, with the reason) and acknowledged; the rest of its group goes on;
- any other failure may pass (throttling, a timeout, a transaction conflict): the record goes
  back to SQS with the rest of its group (RetryLater; the batch processor holds the group);
- on its last receive (ApproximateReceiveCount = the queue's maxReceiveCount) a record that
  still fails is written to InboundDLQ by us, the reason in its message attributes, and
  acknowledged. SQS's own redrive would have moved it on the next receive, but without a reason:
  it keeps the message as sent and a consumer cannot add to it. Either way the rest of the group
  goes on; here it goes on in the same invocation. SQS's redrive stays as the backstop for an
  invocation that crashes or times out (its DLQ entries carry no reason; the log has none either).

A later record of a group never has more receives than an earlier one still in the queue (FIFO
hands out a group's records in order, from the first not yet deleted), so a record reaches its
last receive held behind another only when that one could not be put aside either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from .attribution import Attribution
from .errors import DeliveryFailed
from .failures import (
    FailureOutcome,
    QueuedRecord,
    RecordFailure,
    RetryLater,
    channel_of,
    failure_reason,
    unreadable_reason,
)
from .models import InboundMessage
from .ports import DeadLetters, FailureLog, Parker


@dataclass
class InboundRecords:
    """One SQS batch of InboundQueue: ``process`` each record in order, ``held`` those the batch processor holds
    behind a failure, then ``flush`` what the batch produced."""

    attribution: Attribution
    parker: Parker
    dead_letters: DeadLetters
    log: FailureLog
    max_receive_count: int  # the queue's maxReceiveCount (template.yaml)
    _processed: list[tuple[QueuedRecord, InboundMessage]] = field(default_factory=list)  # done once the events are out
    _first_failures: dict[str | None, RecordFailure] = field(default_factory=dict)  # per group: what holds it

    def process(self, record: QueuedRecord, message: InboundMessage | None = None) -> str:
        """The record's outcome (attribution's, "parked" or "dead_lettered"); raises RetryLater to send it back.

        `message`: the body already read (the batch is read up front for its ad lookups).
        """
        if message is None:
            try:
                message = InboundMessage.model_validate_json(record.body)
            except ValidationError as error:
                return self._unreadable(record, unreadable_reason(error))
        try:
            outcome = self.attribution.handle(message)
        except Exception as error:  # any failure but an unreadable body may pass: SQS gets the record back
            return self._settled(self._failed(record, failure_reason(error, message), message), error)
        self._processed.append((record, message))
        return outcome

    def held(self, record: QueuedRecord) -> None:
        """Logs a record the batch processor did not try because an earlier record of its group failed."""
        first = self._first_failures.get(record.group_id)
        reason = f"held behind {first.message_id} of its group ({first.reason})" if first else "held behind its group"
        if record.receive_count >= self.max_receive_count:  # only when that one could not be put aside either
            reason = f"{reason}; its last receive: SQS moves it to the DLQ without a reason"
        self.log.record_failed(RecordFailure.of(record, FailureOutcome.HELD, reason, self.max_receive_count, None))

    def flush(self) -> list[str]:
        """Sends the batch's events; when they cannot go, the message ids that must fail after all.

        The batch's writes are done but their events are not out: each processed record goes back to SQS
        (every step is idempotent, and a redelivered message sends its events again), or to the DLQ on its
        last receive, with the reason.
        """
        try:
            self.attribution.flush()
        except DeliveryFailed as error:
            reason = f"its events could not be sent: {failure_reason(error)}"
            failures = [self._failed(record, reason, message) for record, message in self._processed]
            return [f.message_id for f in failures if f.outcome is FailureOutcome.RETRIED]
        finally:
            self._processed = []
        return []

    def _unreadable(self, record: QueuedRecord, reason: str) -> str:
        try:
            self.parker.park(channel_of(record.body), f"InboundQueue message {record.message_id}: {reason}", record.body.encode())
        except DeliveryFailed as refused:
            return self._settled(self._failed(record, f"{reason}; could not be parked: {failure_reason(refused)}", None), refused)
        self.log.record_failed(RecordFailure.of(record, FailureOutcome.PARKED, reason, self.max_receive_count, None))
        return FailureOutcome.PARKED

    def _failed(self, record: QueuedRecord, reason: str, message: InboundMessage | None) -> RecordFailure:
        """Dead-letters the record on its last receive; before it (or when the DLQ refuses it), it is retried. Logged."""
        outcome = FailureOutcome.RETRIED
        if record.receive_count >= self.max_receive_count:
            try:
                self.dead_letters.dead_letter(record, reason)
                outcome = FailureOutcome.DEAD_LETTERED
            except DeliveryFailed as refused:
                reason = f"{reason}; could not be dead-lettered: {failure_reason(refused)}"
        failure = RecordFailure.of(record, outcome, reason, self.max_receive_count, message)
        if outcome is FailureOutcome.RETRIED:
            self._first_failures.setdefault(record.group_id, failure)
        self.log.record_failed(failure)
        return failure

    @staticmethod
    def _settled(failure: RecordFailure, error: BaseException) -> str:
        """The outcome of a record put aside; RetryLater (for the batch processor) for one that goes back."""
        if failure.outcome is FailureOutcome.RETRIED:
            raise RetryLater(failure.reason) from error
        return failure.outcome
