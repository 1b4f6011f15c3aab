"""The local stack's SQS event sources against moto: what Lambda and SQS do with failures, redrive and attributes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import moto.sqs.models
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from moto import mock_aws

from local.moto_server import dead_letters_keep_their_message_ids
from local.pumps import SqsPump
from local.runtime import AwsFault, AwsFaults, _current_function
from local.template import SqsSource

MAX_RECEIVE_COUNT = 2


class Function:
    """Stands in for a handler: records each batch and fails the message ids it is told to."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.failing: set[str] = set()  # bodies whose records it reports failed
        self.answer: dict[str, Any] | None = None  # a fixed answer instead

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        self.batches.append(event["Records"])
        if self.answer is not None:
            return self.answer
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] in self.failing]}


@pytest.fixture
def queues() -> Iterator[tuple[Any, str, str, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        fifo = {"FifoQueue": "true", "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
        dlq = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": {MAX_RECEIVE_COUNT}}}'
        work = sqs.create_queue(QueueName="work.fifo", Attributes={**fifo, "RedrivePolicy": redrive})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        yield sqs, work, arn, dlq


def pump(queues: tuple[Any, str, str, str], function: Function) -> SqsPump:
    _, work, arn, _ = queues
    return SqsPump(SqsSource("Function", "Work", 10, True), work, arn, function, boto3.session.Session(), retry_delay_seconds=0)


def send(sqs: Any, url: str, body: str, group: str = "g", dedup: str | None = None, **extra: Any) -> None:
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup or body, **extra)


def dead_letters(sqs: Any, dlq: str) -> list[dict[str, Any]]:
    answer = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], VisibilityTimeout=0)
    return list(answer.get("Messages", []))


def test_a_failed_record_and_the_rest_of_its_group_are_retried_then_redriven_after_max_receive_count(
    queues: tuple[Any, str, str, str],
) -> None:
    sqs, work, _, dlq = queues
    function = Function()
    function.failing = {"poison", "after"}  # the handler fails the poison record and holds the one after it
    for body in ("poison", "after"):
        send(sqs, work, body)
    send(sqs, work, "other", group="h")
    source = pump(queues, function)
    for _ in range(MAX_RECEIVE_COUNT):
        assert source.poll_once()
    assert [r["attributes"]["ApproximateReceiveCount"] for r in function.batches[-1]] == [str(MAX_RECEIVE_COUNT)] * 2
    assert not source.poll_once()  # the next receive moves both to the DLQ, as SQS does
    assert sorted(m["Body"] for m in dead_letters(sqs, dlq)) == ["after", "poison"]
    assert source.stats.records == 1
    assert source.stats.failed_records == 2 * MAX_RECEIVE_COUNT


def test_an_unknown_item_identifier_fails_the_whole_batch(queues: tuple[Any, str, str, str]) -> None:
    sqs, work, _, _ = queues
    function = Function()
    function.answer = {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
    send(sqs, work, "one")
    source = pump(queues, function)
    source.poll_once()
    function.answer = None
    source.poll_once()
    assert [len(b) for b in function.batches] == [1, 1]  # retried: Lambda treats the answer as a failed batch


def test_records_carry_message_attributes_as_lambda_writes_them(queues: tuple[Any, str, str, str]) -> None:
    sqs, work, _, _ = queues
    attributes = {
        "failure_reason": {"DataType": "String", "StringValue": "ThrottlingException"},
        "receive_count": {"DataType": "Number", "StringValue": "5"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    send(sqs, work, "with attributes", MessageAttributes=attributes)
    function = Function()
    pump(queues, function).poll_once()
    [record] = function.batches[0]
    assert record["messageAttributes"]["failure_reason"] == {
        "stringValue": "ThrottlingException",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["raw"]["binaryValue"] == "AAE="
    assert "md5OfMessageAttributes" in record
    read = SQSRecord(record)  # what powertools hands the handler
    assert read.message_attributes["receive_count"].string_value == "5"
    assert read.message_attributes["receive_count"].data_type == "Number"


def test_dead_letters_that_shared_a_deduplication_id_are_both_kept(
    queues: tuple[Any, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS gives a message moved to a FIFO DLQ its message id as deduplication id; moto, patched, does too."""
    monkeypatch.setattr(moto.sqs.models.Queue, "add_message", moto.sqs.models.Queue.add_message)  # restored afterwards
    dead_letters_keep_their_message_ids()
    sqs, work, _, dlq = queues
    function = Function()
    function.failing = {"first", "second"}
    source = pump(queues, function)
    for body, group in (("first", "g"), ("second", "h")):
        send(sqs, work, body, group=group, dedup="same-platform-id")
        for _ in range(MAX_RECEIVE_COUNT + 1):
            source.poll_once()
    kept = dead_letters(sqs, dlq)
    assert sorted(m["Body"] for m in kept) == ["first", "second"]
    assert {m["Attributes"]["MessageDeduplicationId"] for m in kept} == {m["MessageId"] for m in kept}


def test_an_aws_fault_answers_a_handlers_matching_calls_as_aws_would(queues: tuple[Any, str, str, str]) -> None:
    sqs_unfaulted, work, _, _ = queues
    session = boto3.session.Session(region_name="us-east-1")
    faults = AwsFaults()
    faults.install(session)
    faults.add(AwsFault("SendMessage", function="AttributionFunction", match="poison", times=1))
    sqs = session.client("sqs")
    token = _current_function.set("AttributionFunction")
    try:
        with pytest.raises(ClientError) as refused:
            sqs.send_message(QueueUrl=work, MessageBody="poison", MessageGroupId="g", MessageDeduplicationId=uuid.uuid4().hex)
        assert refused.value.response["Error"]["Code"] == "ThrottlingException"
        send(sqs, work, "fine")  # does not match
        sqs.send_message(QueueUrl=work, MessageBody="poison", MessageGroupId="g", MessageDeduplicationId=uuid.uuid4().hex)
    finally:
        _current_function.reset(token)
    assert faults.listed()[0]["hits"] == 1
    assert len(sqs_unfaulted.receive_message(QueueUrl=work, MaxNumberOfMessages=10).get("Messages", [])) == 2
