"""A queue record that failed: what it was, what became of it, and why, said without its text.

The reasons go to the function's log, to ParkedQueue and to InboundDLQ's message attributes,
so they are built here from the error alone: a validation error by field and rule (never the
value), any other error by its type, message and the line that raised it, with the message's
text cut out should an error ever quote it.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import ValidationError

from .models import Channel, InboundMessage

_PACKAGE = str(Path(__file__).resolve().parent.parent) + os.sep  # messaging_partner/: where "our line" is

# Reasons travel as SQS message attributes and log fields: short, one line.
REASON_LIMIT = 1000
_VALIDATION_ERRORS_SHOWN = 5
# What an SQS message attribute may hold (XML 1.0 characters); the rest, and line breaks, become spaces.
_NOT_ONE_LINE = re.compile("[^\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")


@dataclass(frozen=True)
class QueuedRecord:
    """A record as the queue's consumer received it."""

    message_id: str
    body: str
    receive_count: int  # ApproximateReceiveCount: 1 on the first receive
    group_id: str | None = None  # FIFO queues' MessageGroupId


class FailureOutcome(StrEnum):
    PARKED = "parked"  # unreadable, so it would fail on every receive: parked at once and acknowledged
    RETRIED = "retried"  # back to the queue with the rest of its group, for another receive
    DEAD_LETTERED = "dead_lettered"  # failed on its last receive: in the DLQ with its reason, acknowledged
    HELD = "held"  # not tried: an earlier record of its group failed, and it goes back with it


@dataclass(frozen=True)
class RecordFailure:
    """One failed record as the log shows it: ids, counts, kinds and a reason; never the message's text."""

    message_id: str
    outcome: FailureOutcome
    reason: str
    receive_count: int
    max_receive_count: int
    channel: str | None = None
    kind: str | None = None
    platform_message_id: str | None = None

    @classmethod
    def of(
        cls, record: QueuedRecord, outcome: FailureOutcome, reason: str, max_receive_count: int, message: InboundMessage | None
    ) -> RecordFailure:
        return cls(
            message_id=record.message_id,
            outcome=outcome,
            reason=reason,
            receive_count=record.receive_count,
            max_receive_count=max_receive_count,
            channel=str(message.channel) if message else None,
            kind=str(message.kind) if message else None,
            platform_message_id=message.platform_message_id if message else None,
        )


class RetryLater(Exception):
    """The record goes back to its queue (with the rest of its FIFO group); the message is its reason."""


def one_line(reason: str) -> str:
    """A reason as an attribute value and a log field: one line, printable, at most REASON_LIMIT characters."""
    flat = _NOT_ONE_LINE.sub(" ", reason).strip()
    return flat if len(flat) <= REASON_LIMIT else flat[: REASON_LIMIT - 1] + "…"


def unreadable_reason(error: ValidationError) -> str:
    """Why a body is not an InboundMessage: each field and the rule it breaks, never the value it holds."""
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    said = [f"{'.'.join(map(str, p['loc'])) or 'body'}: {p['msg']}" for p in problems[:_VALIDATION_ERRORS_SHOWN]]
    more = len(problems) - _VALIDATION_ERRORS_SHOWN
    return one_line("not an inbound message: " + "; ".join(said) + (f" (and {more} more)" if more > 0 else ""))


def failure_reason(error: BaseException, message: InboundMessage | None = None) -> str:
    """An error as a reason: its type, its message and our line it came through, the message's text cut out.

    AWS errors name their code and operation themselves ("An error occurred (ThrottlingException) when
    calling the TransactWriteItems operation: ..."), so their type is said once.
    """
    said = str(error) if type(error).__name__ in str(error) else f"{type(error).__name__}: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if frame.filename.startswith(_PACKAGE)] or frames
    if ours:
        where = ours[-1]
        said += f" (at {where.filename.removeprefix(_PACKAGE)}:{where.lineno} in {where.name})"
    text = (message.text or "").strip() if message else ""
    if len(text) >= 3:  # a shorter text would cut innocent words
        said = said.replace(text, "[message text]")
    return one_line(said)


def channel_of(body: str) -> str:
    """The channel a record names, when it names a known one; "unknown" for a body that cannot say."""
    try:
        named = json.loads(body).get("channel")
    except (ValueError, AttributeError, RecursionError):
        return "unknown"
    return named if isinstance(named, str) and named in {channel.value for channel in Channel} else "unknown"
