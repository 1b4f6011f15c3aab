"""SQS adapters: InboundQueue (FIFO) and its dead letters, SignalQueue, RollupQueue and ParkedQueue for AttributionFunction
(the webhook parks through parking.py, with its S3 claim check)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import reprlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from messaging_partner.domain.domain_events import MessageReceived, OutcomeReported
from messaging_partner.domain.errors import DeliveryFailed
from messaging_partner.domain.failures import QueuedRecord
from messaging_partner.domain.models import InboundMessage
from messaging_partner.domain.reports import RollupRequest

from .clients import client

SQS_BATCH_LIMIT = 10
# template.yaml gives InboundQueue this MaximumMessageSize (tests/unit/test_template.py holds them equal). SQS
# allows up to 1 MiB since 2025, but a queue made before keeps 256 KiB unless told, and ten messages of this
# size still fit the 6 MB event Lambda hands AttributionFunction. SendMessageBatch is kept to it too.
QUEUE_MESSAGE_LIMIT_BYTES = 256 * 1024
BATCH_LIMIT_BYTES = 256 * 1024
# What SQS takes in a message body (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF). Bodies are JSON, where
# anything else can only sit inside a string, so it goes as a \uXXXX escape: same text, read back the same.
_NOT_FOR_SQS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SQS_ID_LIMIT = 128
_SQS_ID_ALLOWED = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]+$")
# Keep parked bodies inside SQS's 1 MiB message limit, with room for the envelope.
_PARKED_PAYLOAD_LIMIT = 700 * 1024
_SHALLOW = reprlib.Repr()  # a fragment too deep for JSON is kept as a bounded text
_SHALLOW.maxlevel, _SHALLOW.maxstring, _SHALLOW.maxother, _SHALLOW.maxlist, _SHALLOW.maxdict = 8, 2000, 2000, 50, 50


def sqs_safe_id(value: str) -> str:
    """A MessageGroupId / MessageDeduplicationId: the value itself, or its hash when SQS would refuse it."""
    if len(value) <= _SQS_ID_LIMIT and _SQS_ID_ALLOWED.match(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()


def sqs_json(body: str) -> str:
    """A JSON text as a message body SQS accepts: characters it refuses written as JSON escapes."""
    return _NOT_FOR_SQS.sub(lambda found: f"\\u{ord(found.group()):04x}", body)


def body_bytes(body: str) -> int:
    return len(body.encode("utf-8"))


def batches(entries: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """SendMessageBatch requests: at most ten entries, bodies adding up to at most BATCH_LIMIT_BYTES."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = body_bytes(entry["MessageBody"])
        if batch and (len(batch) == SQS_BATCH_LIMIT or size + entry_size > BATCH_LIMIT_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_size
    if batch:
        yield batch


def send_in_batches(queue_url: str, entries: Sequence[dict[str, Any]]) -> None:
    """SendMessageBatch within SQS's limits; entries SQS refused are retried once, then DeliveryFailed."""
    sqs = client("sqs")
    for batch in batches([dict(entry, MessageBody=sqs_json(entry["MessageBody"])) for entry in entries]):
        chunk = [dict(entry, Id=str(i)) for i, entry in enumerate(batch)]
        with delivery_errors(queue_url):
            failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=chunk).get("Failed", [])
            if failed:
                retry = [chunk[int(f["Id"])] for f in failed]
                still_failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=retry).get("Failed", [])
                if still_failed:
                    codes = sorted({f.get("Code", "?") for f in still_failed})
                    raise DeliveryFailed(f"SQS refused {len(still_failed)} messages ({', '.join(codes)})")


@contextmanager
def delivery_errors(destination: str) -> Iterator[None]:
    """AWS SDK errors on a send become DeliveryFailed: the caller must not acknowledge."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise DeliveryFailed(f"Could not deliver to {destination}: {error}") from error


class SqsInboundQueue:
    def __init__(self, queue_url: str, limit_bytes: int = QUEUE_MESSAGE_LIMIT_BYTES) -> None:
        self._queue_url = queue_url
        self._limit_bytes = limit_bytes

    def refusal(self, message: InboundMessage) -> str | None:
        size = body_bytes(sqs_json(message.model_dump_json(exclude_none=True)))
        if size <= self._limit_bytes:
            return None
        return f"message of {size} bytes as queued, over InboundQueue's {self._limit_bytes}-byte limit"

    def send(self, messages: Sequence[InboundMessage]) -> None:
        send_in_batches(
            self._queue_url,
            [
                {
                    "MessageBody": message.model_dump_json(exclude_none=True),
                    "MessageGroupId": sqs_safe_id(message.ordering_key),
                    "MessageDeduplicationId": sqs_safe_id(message.deduplication_key),
                }
                for message in messages
            ],
        )


class SqsSignalInputs:
    def __init__(self, queue_url: str) -> None:
        self._queue_url = queue_url

    def send(self, inputs: Sequence[MessageReceived | OutcomeReported]) -> None:
        send_in_batches(self._queue_url, [{"MessageBody": item.model_dump_json(exclude_none=True)} for item in inputs])


class SqsRollupQueue:
    def __init__(self, queue_url: str) -> None:
        self._queue_url = queue_url

    def send(self, requests: Sequence[RollupRequest]) -> None:
        send_in_batches(self._queue_url, [{"MessageBody": request.model_dump_json()} for request in requests])


class SqsDeadLetters:
    """A record its consumer gave up on, in the queue's FIFO DLQ: the body and message group as received, the reason
    and its circumstances as message attributes (read them with ReceiveMessage MessageAttributeNames=["All"]).

    Its deduplication id is the source message's id, as SQS's own redrive to a FIFO DLQ does: two records that
    shared a deduplication id are both kept, and should the invocation crash after this write, SQS's own move of
    the same message (one visibility timeout later, inside the 5-minute window) is dropped as a duplicate.
    """

    def __init__(self, queue_url: str, failed_by: str, clock: Callable[[], float] = time.time) -> None:
        self._queue_url = queue_url
        self._failed_by = failed_by
        self._clock = clock

    def dead_letter(self, record: QueuedRecord, reason: str) -> None:
        failed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))
        attributes = {
            "failure_reason": _text(reason),
            "failed_by": _text(self._failed_by),
            "failed_at": _text(failed_at),
            "receive_count": {"DataType": "Number", "StringValue": str(record.receive_count)},
            "source_message_id": _text(record.message_id),
        }
        entry: dict[str, Any] = {"QueueUrl": self._queue_url, "MessageBody": record.body, "MessageAttributes": attributes}
        if record.group_id is not None:
            entry |= {"MessageGroupId": record.group_id, "MessageDeduplicationId": record.message_id}
        with delivery_errors(self._queue_url):
            client("sqs").send_message(**entry)


def _text(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class SqsParker:
    """Keeps what we could verify but not read, with the reason, for 14 days."""

    def __init__(self, queue_url: str, clock: Callable[[], float] = time.time) -> None:
        self._queue_url = queue_url
        self._clock = clock

    def park(self, channel: str, reason: str, payload: bytes | Any) -> None:
        record: dict[str, Any] = {"channel": channel, "reason": reason, "parked_at_ms": int(self._clock() * 1000)}
        if isinstance(payload, bytes):
            record["sha256"] = hashlib.sha256(payload).hexdigest()
            record["size"] = len(payload)
            if len(payload) <= _PARKED_PAYLOAD_LIMIT:
                record["body_base64"] = base64.b64encode(payload).decode()
            else:
                record["truncated"] = True
                record["body_base64"] = base64.b64encode(payload[:_PARKED_PAYLOAD_LIMIT]).decode()
        else:
            record["fragment"] = payload
        try:
            body = json.dumps(record, default=str)
        except (ValueError, RecursionError):  # a fragment nested too deep to write as JSON: kept as text
            record["fragment"] = _SHALLOW.repr(payload)
            body = json.dumps(record, default=str)
        with delivery_errors(self._queue_url):
            client("sqs").send_message(QueueUrl=self._queue_url, MessageBody=body)
