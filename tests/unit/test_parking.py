"""Parked payloads of any size: on ParkedQueue while they fit, in S3 beside a record naming them when larger."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from messaging_partner.adapters.aws import parking
from messaging_partner.adapters.aws.queues import QUEUE_MESSAGE_LIMIT_BYTES


class FakeAws:
    """SQS and S3 as the parker uses them, refusing what they would refuse."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:
        assert len(MessageBody.encode()) <= QUEUE_MESSAGE_LIMIT_BYTES, "SQS refuses a message over the queue's size"
        assert MessageBody.isascii()
        self.records.append(json.loads(MessageBody))

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[(Bucket, Key)] = (Body, ContentType)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    fake = FakeAws()
    monkeypatch.setattr(parking, "client", lambda service: fake)
    return fake


def parker() -> parking.ParkedPayloads:
    return parking.ParkedPayloads("https://sqs/parked", "parked-bucket", clock=lambda: 1_763_800_000)


def test_a_small_body_is_kept_in_its_record_byte_for_byte(aws: FakeAws) -> None:
    parker().park("whatsapp", "entry is missing or not a list", b'{"entry": 7}')
    [record] = aws.records
    assert base64.b64decode(record["body_base64"]) == b'{"entry": 7}'
    assert (record["channel"], record["reason"], record["parked_at_ms"]) == (
        "whatsapp",
        "entry is missing or not a list",
        1_763_800_000_000,
    )
    assert aws.objects == {}


def test_a_small_fragment_is_kept_in_its_record(aws: FakeAws) -> None:
    parker().park("messenger", "unknown messaging event", {"sender": {"id": "u"}, "t": "\u00e9\U0001f600"})
    [record] = aws.records
    assert record["fragment"] == {"sender": {"id": "u"}, "t": "\u00e9\U0001f600"}


@pytest.mark.parametrize("size", [QUEUE_MESSAGE_LIMIT_BYTES, 1_500_000, 6 * 1024 * 1024])
def test_a_body_larger_than_the_queue_takes_goes_to_s3_and_the_record_names_it(aws: FakeAws, size: int) -> None:
    body = bytes(range(256)) * (size // 256)
    parker().park("tiktok", "body is not JSON we can read", body)
    [record] = aws.records
    digest = hashlib.sha256(body).hexdigest()
    assert record["s3"] == {"bucket": "parked-bucket", "key": f"tiktok/{digest}.body"}
    assert (record["payload"], record["sha256"], record["size"], record["reason"]) == (
        "body",
        digest,
        len(body),
        "body is not JSON we can read",
    )
    assert aws.objects[("parked-bucket", f"tiktok/{digest}.body")] == (body, "application/octet-stream")


def test_a_fragment_of_one_and_a_half_megabytes_goes_to_s3_as_json(aws: FakeAws) -> None:
    fragment = {"field": "mystery", "value": {"blob": "\u00e9" * 750_000}}
    parker().park("whatsapp", "unknown WhatsApp webhook field 'mystery'", fragment)
    [record] = aws.records
    stored, content_type = aws.objects[(record["s3"]["bucket"], record["s3"]["key"])]
    assert (record["payload"], content_type, json.loads(stored)) == ("fragment", "application/json", fragment)
    assert record["size"] == len(stored) > 1_500_000


def test_parking_the_same_payload_again_writes_the_same_object(aws: FakeAws) -> None:
    body = b"x" * 400_000
    parker().park("whatsapp", "r", body)
    parker().park("whatsapp", "r", body)
    assert len(aws.objects) == 1
    assert aws.records[0]["s3"] == aws.records[1]["s3"]


def test_a_fragment_too_deep_for_json_is_parked_as_bounded_text(aws: FakeAws) -> None:
    """The webhook's parsers never hand one over (they read 64 levels at most); the parker still never fails on it."""
    nested: list[object] = []
    for _ in range(5000):
        nested = [nested]
    parker().park("messenger", "messaging item not readable", {"x": nested})
    [record] = aws.records
    assert record["reason"] == "messaging item not readable"
    assert record["fragment"].startswith("{'x': [[[")
