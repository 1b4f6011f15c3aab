"""Parked payloads: a record with the reason on ParkedQueue, the payload in it or, when larger, beside it in S3.

A parked record is JSON in ASCII (SQS takes any of it). It carries the payload itself while the
record fits 256 KiB, what any SQS queue takes whenever it was made (SQS's limit was 256 KiB
before 2025, and a queue made then keeps it unless told); a larger payload (a 1.5 MB unreadable fragment, a 600 KB
message, a body over 3 MB) is written to ParkedPayloadsBucket first and the record names it
(a claim check), so nothing verified is ever cut short or refused for its size. Objects are
named by channel and SHA-256: a redelivery writes the same object again. They expire a day
after the queue drops its records (template.yaml).

Record fields: channel, reason, parked_at_ms, and either
- body_base64, sha256, size: a whole request body, byte for byte;
- fragment: part of a readable delivery (a JSON value, or a normalized message);
- s3 {bucket, key}, sha256, size, payload ("body" or "fragment"): either of those, in S3.
"""

from __future__ import annotations

import base64
import hashlib
import json
import reprlib
import time
from collections.abc import Callable
from typing import Any

from .clients import client
from .queues import QUEUE_MESSAGE_LIMIT_BYTES, delivery_errors

# A fragment a caller nests deeper than JSON can write (the webhook's parsers never do: they read at
# most 64 levels) is kept as a bounded text rather than fail the delivery.
_SHALLOW = reprlib.Repr()
_SHALLOW.maxlevel, _SHALLOW.maxstring, _SHALLOW.maxother, _SHALLOW.maxlist, _SHALLOW.maxdict = 8, 2000, 2000, 50, 50


class ParkedPayloads:
    """Implements the Parker port (domain/ports.py): keeps what we verified but could not queue, for 14 days."""

    def __init__(
        self,
        queue_url: str,
        bucket: str,
        clock: Callable[[], float] = time.time,
        limit_bytes: int = QUEUE_MESSAGE_LIMIT_BYTES,
    ) -> None:
        self._queue_url = queue_url
        self._bucket = bucket
        self._clock = clock
        self._limit_bytes = limit_bytes

    def park(self, channel: str, reason: str, payload: bytes | Any) -> None:
        header: dict[str, Any] = {"channel": channel, "reason": reason, "parked_at_ms": int(self._clock() * 1000)}
        inline: dict[str, Any] | None
        if isinstance(payload, bytes):
            kind, stored, content_type = "body", payload, "application/octet-stream"
            inline = {"sha256": _sha256(payload), "size": len(payload), "body_base64": base64.b64encode(payload).decode()}
        else:
            kind, content_type = "fragment", "application/json"
            text = _json(payload)
            stored = text.encode()
            inline = {"fragment": json.loads(text)} if len(stored) <= self._limit_bytes else None
        body = None if inline is None else json.dumps({**header, **inline})  # ASCII: every character SQS takes
        if body is None or len(body) > self._limit_bytes:
            digest = _sha256(stored)
            key = f"{channel}/{digest}.{'json' if kind == 'fragment' else 'body'}"
            with delivery_errors(f"s3://{self._bucket}/{key}"):
                client("s3").put_object(Bucket=self._bucket, Key=key, Body=stored, ContentType=content_type)
            claim = {"bucket": self._bucket, "key": key}
            body = json.dumps({**header, "payload": kind, "sha256": digest, "size": len(stored), "s3": claim})
        with delivery_errors(self._queue_url):
            client("sqs").send_message(QueueUrl=self._queue_url, MessageBody=body)


def _json(fragment: Any) -> str:
    try:
        return json.dumps(fragment, default=str)
    except (ValueError, RecursionError):
        return json.dumps(_SHALLOW.repr(fragment))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
