"""SQS event-source mappings: poll a queue, invoke the function with a batch, settle the batch.

As Lambda does: up to BatchSize records per invocation; with ReportBatchItemFailures only
the listed records stay on the queue, otherwise an exception fails the whole batch; the
queue's redrive policy moves a message to its DLQ after maxReceiveCount receives (moto
does the move; local/moto_server.py gives a FIFO dead letter its message id as deduplication
id, as SQS does). FIFO order within a group is moto's (a group is held while any of its
messages is in flight). Records carry the system attributes (ApproximateReceiveCount,
MessageGroupId, ...) and the message attributes in Lambda's event shape.

A source with a maximum concurrency (ScalingConfig) is polled by that many threads, each
one "container" invoking one batch at a time, as Lambda's pollers would; without one, by a
single thread (Lambda would scale further; one keeps the local order easy to follow).

Local deviation: a failed record becomes visible again after ``retry_delay_seconds``
instead of the queue's full visibility timeout, so retries and redrive show in seconds.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from .template import REGION, SqsSource

Invoke = Callable[[str, dict[str, Any]], Any]
EXTRA_POLLER_IDLE_SECONDS = 1.0


@dataclass
class PumpStats:
    batches: int = 0
    records: int = 0
    failed_records: int = 0
    failed_batches: int = 0
    in_flight: int = 0
    record_types: Counter[str] = field(default_factory=Counter)
    event_ids: dict[str, set[str]] = field(default_factory=dict)  # record type -> distinct event ids seen

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "records": self.records,
            "failed_records": self.failed_records,
            "failed_batches": self.failed_batches,
            "in_flight": self.in_flight,
            "record_types": dict(self.record_types),
            "distinct_events": {kind: len(ids) for kind, ids in self.event_ids.items()},
        }


def record_type(body: str) -> tuple[str, str | None]:
    """A label for stats (the EventBridge detail-type or the message's own type field) and its event id, if any."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return "not-json", None
    if not isinstance(data, dict):
        return type(data).__name__, None
    detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
    event_id = data.get("event_id") or detail.get("event_id")
    return str(data.get("detail-type") or data.get("type") or data.get("kind") or "object"), event_id


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A received message as Lambda's SQS event carries it (message attributes in the event's own casing)."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def lambda_message_attributes(received: dict[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's {"StringValue", "DataType"} as Lambda's event writes them: {"stringValue", "dataType", ...}."""
    attributes = {}
    for name, value in received.items():
        attribute: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            attribute["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        attributes[name] = attribute
    return attributes


class SqsPump(threading.Thread):
    def __init__(
        self,
        source: SqsSource,
        queue_url: str,
        queue_arn: str,
        invoke: Invoke,
        session: boto3.session.Session,
        retry_delay_seconds: int = 1,
        idle_wait_seconds: float = 0.05,
        concurrency: int = 1,
    ) -> None:
        super().__init__(name=f"pump-{source.function}", daemon=True)
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.stats = PumpStats()
        self._invoke = invoke
        self._sqs = session.client("sqs")
        self._retry_delay = retry_delay_seconds
        self._idle_wait = idle_wait_seconds
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._concurrency = concurrency

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        # The extra pollers idle longer: ten threads polling an empty queue 20 times a second would keep moto
        # busy enough to slow everything else; with work queued they all poll back to back.
        others = [
            threading.Thread(target=self._poll, args=(EXTRA_POLLER_IDLE_SECONDS,), name=f"{self.name}-{n}", daemon=True)
            for n in range(1, self._concurrency)
        ]
        for other in others:
            other.start()
        self._poll(self._idle_wait)
        for other in others:
            other.join(timeout=5)

    def _poll(self, idle_wait: float) -> None:
        while not self._stopping.is_set():
            try:
                worked = self.poll_once()
            except Exception:  # moto restarting or the stack stopping: keep the pump alive
                worked = False
            if not worked:
                self._stopping.wait(idle_wait)

    def poll_once(self) -> bool:
        """Receive and process one batch; False when the queue had nothing visible."""
        received = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return False
        with self._lock:
            self.stats.in_flight += len(received)
        try:
            failed_ids = self._process(received)
            self._settle(received, failed_ids)
        finally:
            with self._lock:
                self.stats.in_flight -= len(received)
        return True

    def _process(self, received: list[dict[str, Any]]) -> set[str]:
        event = {"Records": [sqs_record(m, self.queue_arn) for m in received]}
        all_ids = {m["MessageId"] for m in received}
        try:
            result = self._invoke(self.source.function, event)
        except Exception:
            with self._lock:
                self.stats.failed_batches += 1
            return all_ids
        if not self.source.report_batch_item_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        # Lambda treats an unknown or empty itemIdentifier as a failure of the whole batch.
        ids = {f.get("itemIdentifier") for f in failures}
        return all_ids if not ids <= all_ids else {i for i in ids if i}

    def _settle(self, received: list[dict[str, Any]], failed_ids: set[str]) -> None:
        done = [m for m in received if m["MessageId"] not in failed_ids]
        with self._lock:
            self.stats.batches += 1
            self.stats.records += len(done)
            self.stats.failed_records += len(failed_ids)
            for message in done:
                kind, event_id = record_type(message["Body"])
                self.stats.record_types[kind] += 1
                if event_id:
                    self.stats.event_ids.setdefault(kind, set()).add(str(event_id))
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            )
        for message in received:
            if message["MessageId"] in failed_ids:
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self._retry_delay
                )


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
