"""The webhook fuzzed over its four dialects: no input yields a 5xx, and nothing verified is dropped or miscounted.

Each case is one request as API Gateway hands it to WebhookFunction (functions/webhook/app.py), run in
process with the real adapters over fakes of SQS and S3 that refuse what AWS refuses: a message over
the queue's MaximumMessageSize (template.yaml), a character SQS does not take, a batch over ten entries
or 256 KiB, a FIFO message without valid group and deduplication ids. What lands on InboundQueue must
read back as AttributionFunction reads it; what is parked must hold its payload, in S3 when large.

Deliveries are built from each platform's documented shapes (reference/meta_and_peers.md A1-A3,
reference/tiktok.md 6c) and then made awkward the ways issue 13 found and more: wrong types in any
field, fields missing, extra nesting, numbers no clock reads (NaN, Infinity, 2^63, 5,000 digits),
nesting a thousand deep, lone surrogates and other text SQS or UTF-8 refuse, messages of 600 KB and
fragments of 1.5 MB. Each is sent signed, or with a signature broken one of the ways found (t= of
thousands of digits or superscript digits, non-ASCII signatures, a wrong secret, a stale t).

The properties: an unverifiable request is 401 with nothing kept; a verified one is 200; every
conversation event sent is queued or parked, exactly once (accepted + parked == items sent); a
delivery parked whole is kept byte for byte; and no parser ever fails into the catch-all.
Cases per run: the webhook-fuzz profiles (tests/property/conftest.py), 10,000 when CI=true.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from hypothesis import event, given, settings
from hypothesis import strategies as st

from handler_support import settings as handler_settings
from local.apigw import build_v2_event
from local.provision import local_parameters
from local.runtime import LambdaContext, function_environment, load_handler
from local.scenario import hub_signature, tiktok_signature_header
from local.template import HttpRoute, Resolver, Template
from messaging_partner.adapters.aws import parking, queues
from messaging_partner.adapters.channels import meta_messaging, tiktok, whatsapp
from messaging_partner.domain.models import InboundMessage
from messaging_partner.domain.webhooks import NOTHING_RECOGNISED, PARSER_FAILED
from tests.fakes import FakeSecrets
from tests.property.conftest import WEBHOOK_FUZZ

T = TypeVar("T")
TEMPLATE = Template()
SECRETS = FakeSecrets()
BUCKET = "parked-payloads-fuzz"
ROUTE = next(r for r in TEMPLATE.http_routes() if r.function == "WebhookFunction" and r.method == "POST")
GET_ROUTE = next(r for r in TEMPLATE.http_routes() if r.function == "WebhookFunction" and r.method == "GET")

# ---------------------------------------------------------------- SQS and S3 as AWS answers them

_SQS_CHARACTERS = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_SQS_ID = re.compile(r"[!-~]{1,128}")  # group and deduplication ids: alphanumerics and punctuation
_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def queue_properties(logical_id: str) -> dict[str, Any]:
    return dict(TEMPLATE.resources[logical_id]["Properties"])


def refused(operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": "InvalidParameterValue", "Message": message}}, operation)


@dataclass
class WireSqs:
    """SendMessage and SendMessageBatch with the checks SQS makes; what it took, by queue URL."""

    urls: dict[str, str]  # queue URL -> logical id
    taken: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def _take(self, operation: str, url: str, entry: dict[str, Any]) -> None:
        properties = queue_properties(self.urls[url])
        body = entry["MessageBody"]
        if not body or not _SQS_CHARACTERS.fullmatch(body):
            raise refused(operation, f"{self.urls[url]}: body empty or with characters SQS refuses")
        limit = properties.get("MaximumMessageSize", 1024 * 1024)
        if len(body.encode()) > limit:
            raise refused(operation, f"{self.urls[url]}: message of {len(body.encode())} bytes over {limit}")
        if properties.get("FifoQueue"):
            for id_field in ("MessageGroupId", "MessageDeduplicationId"):
                if not _SQS_ID.fullmatch(str(entry.get(id_field, ""))):
                    raise refused(operation, f"{self.urls[url]}: {id_field} {entry.get(id_field)!r} missing or invalid")
        self.taken.setdefault(url, []).append(entry)

    def send_message(self, QueueUrl: str, MessageBody: str, **rest: Any) -> dict[str, Any]:
        self._take("SendMessage", QueueUrl, {"MessageBody": MessageBody, **rest})
        return {"MessageId": "m"}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if not 1 <= len(Entries) <= 10:
            raise refused("SendMessageBatch", f"{len(Entries)} entries in one batch")
        if len({e["Id"] for e in Entries}) != len(Entries) or not all(_ENTRY_ID.fullmatch(e["Id"]) for e in Entries):
            raise refused("SendMessageBatch", "batch entry ids repeated or invalid")
        total = sum(len(e["MessageBody"].encode()) for e in Entries)
        if total > queues.BATCH_LIMIT_BYTES:
            raise refused("SendMessageBatch", f"batch of {total} bytes")
        for entry in Entries:
            self._take("SendMessageBatch", QueueUrl, {k: v for k, v in entry.items() if k != "Id"})
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


@dataclass
class WireS3:
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def put_object(self, Bucket: str, Key: str, Body: bytes, **rest: Any) -> dict[str, Any]:
        if Bucket != BUCKET or not 1 <= len(Key.encode()) <= 1024:
            raise refused("PutObject", f"bucket {Bucket!r} or key {Key!r}")
        self.objects[(Bucket, Key)] = bytes(Body)
        return {}


# ---------------------------------------------------------------- WebhookFunction in process


@dataclass
class Kept:
    """What one request left behind."""

    status: int
    answer: Any
    queued: list[InboundMessage]
    parked: list[dict[str, Any]]
    s3: dict[tuple[str, str], bytes]

    def payload_of(self, record: dict[str, Any]) -> bytes:
        """The bytes a parked record holds, or names in S3 (then their SHA-256 must match)."""
        if "s3" in record:
            stored = self.s3[(record["s3"]["bucket"], record["s3"]["key"])]
            assert hashlib.sha256(stored).hexdigest() == record["sha256"]
            return stored
        if "body_base64" in record:
            return base64.b64decode(record["body_base64"])
        return json.dumps(record["fragment"]).encode()


class Webhook:
    """functions/webhook/app.py, loaded from template.yaml, with its AWS clients swapped for WireSqs and WireS3."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        attributes: dict[tuple[str, str], str] = {}
        urls: dict[str, str] = {}
        for name, spec in TEMPLATE.of_type("AWS::SQS::Queue").items():
            fifo = ".fifo" if spec["Properties"].get("FifoQueue") else ""
            url = f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}{fifo}"
            urls[url] = name
            attributes.update({(name, "QueueUrl"): url, (name, "Ref"): url, (name, "QueueName"): name + fifo})
        attributes[("ParkedPayloadsBucket", "Ref")] = BUCKET

        def attribute(logical_id: str, name: str) -> str:
            return attributes.get((logical_id, name), f"{logical_id}-{name}")

        resolver = Resolver(parameters=local_parameters(TEMPLATE, {}), attribute=attribute)
        for name, value in function_environment(TEMPLATE, resolver).items():
            monkeypatch.setenv(name, value)
        handler_settings.settings.cache_clear()
        self.inbound_url = attribute("InboundQueue", "QueueUrl")
        self.parked_url = attribute("ParkedQueue", "QueueUrl")
        self.sqs, self.s3 = WireSqs(urls), WireS3()
        clients = {"sqs": self.sqs, "s3": self.s3}
        monkeypatch.setattr(queues, "client", clients.__getitem__)
        monkeypatch.setattr(parking, "client", clients.__getitem__)
        spec = next(f for f in TEMPLATE.functions() if f.logical_id == "WebhookFunction")
        self._handler = load_handler(spec)
        monkeypatch.setattr(sys.modules["local_fn_WebhookFunction"], "secret_source", lambda: SECRETS)
        self._context = LambdaContext(function_name="WebhookFunction", timeout_seconds=10)

    def request(self, route: HttpRoute, target: str, headers: dict[str, str], raw: bytes) -> Kept:
        self.sqs.taken.clear()
        self.s3.objects.clear()
        event = build_v2_event(route, {}, route.method, target, headers, raw, "198.51.100.7")
        response = self._handler(event, self._context)  # an exception here is a 5xx at API Gateway
        status = int(response["statusCode"])
        assert status < 500, f"{status}: {response.get('body')} (the captured log says what SQS or S3 refused)"
        body = response.get("body") or ""
        answer = json.loads(body) if response.get("headers", {}).get("Content-Type", "").startswith("application/json") else body
        queued = [
            InboundMessage.model_validate_json(e["MessageBody"]) for e in self.sqs.taken.get(self.inbound_url, [])
        ]  # as AttributionFunction reads them
        parked = [json.loads(e["MessageBody"]) for e in self.sqs.taken.get(self.parked_url, [])]
        return Kept(status, answer, queued, parked, dict(self.s3.objects))

    def post(self, channel: str, headers: dict[str, str], raw: bytes) -> Kept:
        return self.request(ROUTE, f"/webhooks/{channel}", headers, raw)


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield Webhook(monkeypatch)
    handler_settings.settings.cache_clear()


# ---------------------------------------------------------------- a case's choices
#
# Hypothesis costs about a millisecond per case and a tenth or more per choice it makes: more than the
# webhook spends on most deliveries. So each case draws one tape of bytes, and every choice below (which
# shape, which fields broken and how, which signature) reads the next bytes of it. Hypothesis still
# drives, replays failures from its database and shrinks a failing tape towards zeros, and a zero always
# picks the first option: the documented shape, unbroken, signed.

TAPE_BYTES = 128


class Tape:
    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0
        self._beyond = random.Random(data)  # past the end, choices go on deterministically

    def number(self, below: int) -> int:
        """0 <= n < below."""
        raw = 0
        for _ in range(1 if below <= 256 else 2 if below <= 65_536 else 3):
            if self._at < len(self._data):
                raw, self._at = raw << 8 | self._data[self._at], self._at + 1
            else:
                raw = raw << 8 | self._beyond.randrange(256)
        return raw % below

    def choice(self, options: Sequence[T]) -> T:
        return options[self.number(len(options))]

    def one_in(self, times: int) -> bool:
        return self.number(times) == times - 1  # a zero tape: never


# ---------------------------------------------------------------- awkward values

NOW_S = int(time.time())
# Markers replaced in the serialized JSON: nesting and integers json.dumps cannot write.
_MARK = re.compile(r'\\?"__MARK_(deep|digits)_(\d+)__\\?"')


def deep(levels: int) -> str:
    return f"__MARK_deep_{levels}__"


def digits(count: int) -> str:
    return f"__MARK_digits_{count}__"


def unmark(text: str) -> str:
    if "__MARK_" not in text:
        return text
    return _MARK.sub(lambda m: "[" * int(m[2]) + "]" * int(m[2]) if m[1] == "deep" else "9" * int(m[2]), text)


ODD_TEXTS = [
    "Do you ship to Lisbon?",
    "",
    " ",
    "0",
    "1.5",
    "-1",
    "1e999",
    "NaN",
    "Infinity",
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "\u00b9\u00b2\u00b3",  # superscript digits
    "\ud800",  # lone high surrogate
    "a\udfffb",  # lone low surrogate
    "hi \ud83d",  # text cut in the middle of an emoji
    "\ufffe\uffff",  # noncharacters SQS refuses
    "\x00\x01\x1f\x7f",
    "\u202eevil",
    "e\u0301",
    "\U0001f600",
    "\u4f60\u597d",
    "price? \u0e23\u0e32\u0e04\u0e32",
    '{"nested": "json"}',
    "\\u0000",
]
# Past the queues' 256 KiB: one text in forty, since such a case costs milliseconds more than the rest.
BIG_TEXTS = ["\u00e9" * 150_000, "x" * 600_000, "y" * 1_500_000]
# Code point ranges a random text is drawn from: ASCII, Latin-1, the BMP, surrogates, the astral planes.
PLANES = [(0x20, 0x7F), (0x00, 0x100), (0x100, 0xD800), (0xD800, 0xE000), (0xE000, 0x10000), (0x10000, 0x110000)]


def text(tape: Tape) -> str:
    if tape.one_in(40):
        return tape.choice(BIG_TEXTS)
    if not tape.one_in(4):
        return tape.choice(ODD_TEXTS)
    low, high = tape.choice(PLANES)
    return "".join(chr(low + tape.number(high - low)) for _ in range(tape.number(9)))


TIMESTAMPS: list[Any] = [
    NOW_S,
    NOW_S * 1000,
    str(NOW_S),
    str(NOW_S * 1000),
    NOW_S * 1_000_000,
    NOW_S + 0.5,
    f" {NOW_S} ",
    f"{NOW_S}.5",
    0,
    -1,
    1,
    2**31,
    2**53,
    2**63 - 1,
    2**63,
    2**64,
    10**17,
    10**30,
    10**65,
    10**100,
    digits(400),
    digits(4_301),
    digits(10_000),
    1e300,
    -0.0,
    float("inf"),
    float("-inf"),
    float("nan"),
    "soon",
]


def timestamp(tape: Tape) -> Any:
    return tape.choice(TIMESTAMPS)


SCALARS: list[Any] = [None, True, False, 0, -1, 2**70, [], {}, "", deep(8), deep(20), deep(100), deep(1_000), deep(5_000)]


def awkward(tape: Tape, room: int = 3) -> Any:
    """A value of any JSON type, as odd as the tape says: timestamps no clock reads, text SQS refuses, deep nesting."""
    kind = tape.number(8)
    if kind == 0:
        return tape.choice(SCALARS)
    if kind == 1:
        return timestamp(tape)
    if kind in (2, 3):
        return text(tape)
    if kind == 5 and room:
        return [awkward(tape, room - 1) for _ in range(tape.number(3))]
    if kind == 6 and room:
        return {text(tape): awkward(tape, room - 1) for _ in range(tape.number(3))}
    return tape.choice(SCALARS)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON-like value a mutation can touch."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def mutate(tape: Tape, item: dict[str, Any], extra_keys: Sequence[str]) -> dict[str, Any]:
    """The item with up to three fields changed: given an awkward value, dropped, wrapped once more, or added."""
    for _ in range(tape.choice([0, 0, 1, 1, 1, 2, 3])):
        where = list(paths(item))
        operation = tape.choice(["replace", "replace", "drop", "wrap", "add"])
        if operation == "add" or not where:
            item[tape.choice(extra_keys)] = awkward(tape)
            continue
        path = tape.choice(where)
        parent = item
        for step in path[:-1]:
            parent = parent[step]
        if operation == "replace":
            parent[path[-1]] = awkward(tape)
        elif operation == "drop":
            del parent[path[-1]]
        else:
            parent[path[-1]] = tape.choice([[parent[path[-1]]], {"value": parent[path[-1]]}])
    return item


def serialize(tape: Tape, value: Any) -> bytes:
    """JSON as a platform might send it: ASCII escapes or raw UTF-8, compact or spaced."""
    ascii_only, compact = tape.choice([True, False]), tape.choice([True, False])
    text = unmark(json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":") if compact else None))
    return text.encode("utf-8", "surrogatepass")  # a raw lone surrogate is bytes no UTF-8 reader takes


# ---------------------------------------------------------------- documented shapes, per platform


@dataclass
class Delivery:
    channel: str
    value: Any  # the body as JSON-like data, before serialization
    items: int  # conversation events in it: each must end queued or parked, once
    structural: bool = False  # a container (envelope, entry, change, list) was broken: only whole-or-items holds


def whatsapp_message(kind: str, n: str, text: str, referral: bool) -> dict[str, Any]:
    """A WhatsApp message of the given type in its documented shape (meta_and_peers.md A1.3, A1.4)."""
    message: dict[str, Any] = {"from": f"351{n}", "id": f"wamid.{n}", "timestamp": str(NOW_S), "type": kind}
    body = {
        "text": {"body": text},
        "image": {"caption": text, "mime_type": "image/jpeg", "sha256": "abc", "id": n},
        "button": {"text": text, "payload": n},
        "interactive": {"type": "button_reply", "button_reply": {"id": n, "title": text}},
        "location": {"latitude": 38.7, "longitude": -9.1},
        "reaction": {"message_id": f"wamid.{n}r", "emoji": "\u2764" if len(n) % 2 else ""},
        "edit": {"original_message_id": f"wamid.{n}o", "message": {"type": "text", "text": {"body": text}}},
        "revoke": {"original_message_id": f"wamid.{n}o"},
        "system": {"body": "changed number", "wa_id": f"352{n}", "user_id": f"BR.{n}", "type": "user_changed_number"},
        "unsupported": {"type": "poll"},
        "order": {"catalog_id": n, "product_items": [{"product_retailer_id": n, "quantity": 1}]},
        "sticker": {"id": n, "animated": False},
    }.get(kind)
    if body is not None:
        message[kind] = body
    if kind == "unsupported":
        message["errors"] = [{"code": 131051, "title": "Message type unknown"}]
    if referral:
        message["referral"] = {
            "source_url": "https://fb.me/x",
            "source_id": n,
            "source_type": "ad",
            "headline": text,
            "media_type": "image",
            "image_url": "https://scontent.example/i.jpg",
            "ctwa_clid": f"clid{n}",
        }
    if len(n) % 3 == 0:  # a customer known by BSUID too
        message["from_user_id"] = f"BR.{n}"
    return message


WHATSAPP_TYPES = [
    *("text", "image", "button", "interactive", "location", "reaction", "edit", "revoke", "system", "unsupported"),
    *("request_welcome", "order", "sticker"),
]
WHATSAPP_CHANGES = ["messages", "messages", "messages", "notice", "statuses", "unknown"]


def number_id(tape: Tape) -> str:
    return f"{tape.number(1 << 24):x}"


def whatsapp_delivery(tape: Tape) -> Delivery:
    entries, items = [], 0
    for _ in range(tape.choice([1, 1, 2])):
        changes = []
        for _ in range(tape.choice([1, 1, 2, 3])):
            shape, n = tape.choice(WHATSAPP_CHANGES), number_id(tape)
            value: dict[str, Any] = {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": f"1065{n}"},
            }
            if shape == "messages":
                messages = [
                    mutate(
                        tape,
                        whatsapp_message(tape.choice(WHATSAPP_TYPES), f"{n}{i}", text(tape), tape.one_in(2)),
                        ["x", "context"],
                    )
                    for i in range(tape.choice([1, 1, 2, 3]))
                ]
                value["contacts"] = [
                    {"profile": {"name": "Ana"}, "wa_id": m.get("from"), "user_id": m.get("from_user_id")} for m in messages
                ]
                value["messages"] = messages
                if tape.one_in(3):
                    value["statuses"] = [{"id": f"wamid.{n}s", "status": "read", "timestamp": str(NOW_S), "recipient_id": n}]
                items += len(messages)
                changes.append({"value": value, "field": "messages"})
            elif shape == "statuses":
                value["statuses"] = [{"id": f"wamid.{n}", "status": "read", "timestamp": str(NOW_S), "recipient_id": n}]
                changes.append({"value": value, "field": "messages"})
            elif shape == "notice":
                changes.append({"value": {"event": "x"}, "field": tape.choice(sorted(whatsapp.RECOGNIZED_FIELDS))})
            else:  # a field nobody documents, or not a field name at all: the change is parked with its reason
                field_name = f"mystery_{n}" if tape.one_in(2) else awkward(tape)
                changes.append({"value": {"blob": awkward(tape)}, "field": field_name})
                items += 1
        entries.append({"id": f"1022{number_id(tape)}", "changes": changes})
    envelope = {"object": "whatsapp_business_account", "entry": entries}
    structural = tape.one_in(10)
    if structural:  # break a container: the envelope, an entry, a change or its value
        envelope = mutate(tape, envelope, ["object", "entry", "extra"])
    return Delivery("whatsapp", envelope, items, structural)


MESSAGING_KINDS = [
    *("message", "message", "message", "echo", "deleted", "unsupported", "edit", "reaction", "postback", "referral"),
    *("read", "notice"),
]


def messaging_item(kind: str, page: str, n: str, text: str, timestamp: Any) -> dict[str, Any]:
    """A Messenger or Instagram messaging item in its documented shape (meta_and_peers.md A2, A3)."""
    customer = {"user_ref": f"ref{n}"} if len(n) % 5 == 0 else {"id": f"psid{n}"}  # the chat plugin sends user_ref
    item: dict[str, Any] = {"sender": customer, "recipient": {"id": page}, "timestamp": timestamp}
    referral = {
        "ref": f"ref{n}",
        "ad_id": f"ad{n}",
        "source": ("ADS", "SHORTLINK", "CUSTOMER_CHAT_PLUGIN")[len(n) % 3],
        "type": "OPEN_THREAD",
        "ads_context_data": {"ad_title": text, "photo_url": "https://x/p.jpg", "post_id": n},
    }
    mid = f"m_{n}"
    if kind == "message":
        item["message"] = {"mid": mid, "text": text, "attachments": [{"type": "image", "payload": {"url": "https://x/a.jpg"}}]}
        if len(n) % 2:
            item["message"]["referral"] = referral
    elif kind == "echo":
        item["sender"], item["recipient"] = {"id": page}, customer
        item["message"] = {"mid": mid, "is_echo": True, "app_id": 1, "text": text}
    elif kind == "deleted":
        item["message"] = {"mid": mid, "is_deleted": True}
    elif kind == "unsupported":
        item["message"] = {"mid": mid, "is_unsupported": True}
    elif kind == "edit":
        item["message_edit"] = {"mid": mid, "text": text, "num_edit": len(n)}
    elif kind == "reaction":
        item["reaction"] = {"mid": mid, "action": ("react", "unreact")[len(n) % 2], "reaction": "love", "emoji": "\u2764"}
    elif kind == "postback":
        item["postback"] = {"title": text, "payload": n, "mid": mid, "referral": referral}
    elif kind == "referral":
        item["referral"] = referral
    elif kind == "read":
        item["read"] = {"watermark": timestamp}
    else:  # a notice: counted, never kept
        item[meta_messaging.RECOGNIZED_ONLY[len(n) % len(meta_messaging.RECOGNIZED_ONLY)]] = {"watermark": 1, "mids": [mid]}
    return item


def messaging_delivery(tape: Tape, channel: str) -> Delivery:
    object_type = {"messenger": "page", "instagram": "instagram"}[channel]
    entries, items = [], 0
    extra = ["seq", "x", "metadata", "mid"]  # never a notice's key: an item stays a conversation event
    for _ in range(tape.choice([1, 1, 2])):
        page = f"page{number_id(tape)}"
        messaging = []
        for _ in range(tape.choice([1, 1, 2, 3])):
            kind = tape.choice(MESSAGING_KINDS)
            item = messaging_item(kind, page, number_id(tape), text(tape), timestamp(tape))
            if kind != "notice":
                item = mutate(tape, item, extra)
                items += 1
            messaging.append(item)
        entries.append({"id": page, "time": NOW_S * 1000, "messaging": messaging})
    if tape.one_in(6):  # a subscription of another kind beside the messages
        entries.append({"id": "page", "time": NOW_S * 1000, "changes": [{"field": "feed", "value": {}}]})
    envelope = {"object": object_type, "entry": entries}
    structural = tape.one_in(10)
    if structural:
        envelope = mutate(tape, envelope, ["object", "entry", "extra"])
    return Delivery(channel, envelope, items, structural)


TIKTOK_EVENTS = [
    *("im_receive_msg", "im_receive_msg", "im_receive_msg_eu", "im_send_msg", "im_referral_msg", "im_mark_read_msg"),
    *("authorization.removed", "reaction", "notice"),
]


def tiktok_content(event: str, business: str, n: str, text: str, timestamp: Any) -> dict[str, Any]:
    """The content of a TikTok event in its documented shape (tiktok.md 6c)."""
    customer = f"user{n}"
    users = {"from_user": {"id": customer, "role": "personal_account"}, "to_user": {"id": business, "role": "business_account"}}
    content: dict[str, Any] = {"timestamp": timestamp}
    if event in ("im_receive_msg", "im_send_msg"):
        if event == "im_send_msg":
            users = {"from_user": users["to_user"], "to_user": users["from_user"]}
        kind = sorted(tiktok.CUSTOMER_CONTENT_TYPES)[len(n) % len(tiktok.CUSTOMER_CONTENT_TYPES)]
        content |= {**users, "conversation_id": f"c{n}", "message_id": f"msg{n}", "type": kind, "text": {"body": text}}
    elif event == "reaction":
        reaction = {"operation": ("ADD", "REMOVE")[len(n) % 2], "emoji": "\u2764", "original_msg_id": f"msg{n}o"}
        content |= {**users, "message_id": f"msg{n}", "type": "reaction", "reaction": [reaction]}
    elif event == "im_receive_msg_eu":
        content |= {"to": "brand", "to_user": users["to_user"]}
    elif event == "im_referral_msg":
        ad = {"advertiser_id": f"adv{n}", "ad_id": f"ad{n}", "timestamp": timestamp, "ad_name": text, "message_material_id": n}
        short_link = {"ref": f"ref{n}", "prefilled_message": text}
        referral = {"source": "ad", "ad": ad} if len(n) % 2 else {"source": "short_link", "short_link": short_link}
        content |= {**users, "referral": referral}
    elif event == "im_mark_read_msg":
        content |= {**users, "read": {"last_read_timestamp": timestamp}}
    elif event == "authorization.removed":
        content = {"reason": len(n) % 8}
    return content


def tiktok_delivery(tape: Tape) -> Delivery:
    event, n = tape.choice(TIKTOK_EVENTS), number_id(tape)
    business = f"biz{n}"
    counted = event != "notice"
    if counted:
        content = mutate(
            tape, tiktok_content(event, business, n, text(tape), timestamp(tape)), ["x", "scene_type", "message_tag"]
        )
        event = "im_receive_msg" if event == "reaction" else event
    else:
        event = tape.choice(sorted(tiktok.RECOGNIZED_ONLY))
        content = {"reason": "testing Webhook"}
    envelope: dict[str, Any] = {"client_key": "app", "event": event, "create_time": timestamp(tape), "user_openid": business}
    if counted and tape.one_in(5):
        envelope = mutate(tape, envelope, ["x", "content_type"])
    if tape.one_in(6):  # documented as a JSON string; an object is read too
        envelope["content"] = content
    else:
        envelope["content"] = unmark(json.dumps(content, ensure_ascii=tape.choice([True, False])))
    return Delivery("tiktok", envelope, 1 if counted else 0)


# ---------------------------------------------------------------- signatures, good and broken


def header_text(tape: Tape) -> str:
    low, high = tape.choice(PLANES)
    return "".join(chr(low + tape.number(high - low)) for _ in range(tape.number(80)))


META_BROKEN = ["missing", "wrong secret", "tampered", "non-ASCII", "full-width", "upper", "two", "text"]
TIKTOK_BROKEN = ["missing", "wrong secret", "stale", "future", "huge t", "superscript t", "non-ASCII s", "two t", "text"]


def meta_headers(tape: Tape, raw: bytes) -> tuple[dict[str, str], bool]:
    good = hub_signature(SECRETS.meta_secret, raw)
    broken = tape.choice(META_BROKEN) if tape.one_in(4) else "none"  # three in four are signed: they reach the parsers
    header: str | None = {
        "none": good,
        "missing": None,
        "wrong secret": hub_signature("someone-else", raw),
        "tampered": hub_signature(SECRETS.meta_secret, raw + b" "),
        "non-ASCII": "sha256=\u00e9" + good[8:],
        "full-width": "sha256=" + good[7:].translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),
        "upper": "SHA256=" + good[7:],
        "two": f"{good},{good}",
        "text": header_text(tape),
    }[broken]
    return ({} if header is None else {"x-hub-signature-256": header}), broken == "none"


def tiktok_headers(tape: Tape, raw: bytes) -> tuple[dict[str, str], bool]:
    now = int(time.time())
    good = tiktok_signature_header(SECRETS.tiktok_secret, raw, now)
    digest = good.split("s=", 1)[1]
    broken = tape.choice(TIKTOK_BROKEN) if tape.one_in(4) else "none"
    header: str | None = {
        "none": good,
        "missing": None,
        "wrong secret": tiktok_signature_header("someone-else", raw, now),
        "stale": tiktok_signature_header(SECRETS.tiktok_secret, raw, now - 3_600),
        "future": tiktok_signature_header(SECRETS.tiktok_secret, raw, now + 3_600),
        "huge t": f"t={'9' * tape.choice([13, 4_301, 9_000])},s={digest}",
        "superscript t": f"t=\u00b9\u2077\u2076\u00b3,s={digest}",
        "non-ASCII s": f"t={now},s=\u00e9{digest[1:]}",
        "two t": f"t={now},t={now},s={digest}",
        "text": header_text(tape),
    }[broken]
    return ({} if header is None else {"tiktok-signature": header}), broken == "none"


# ---------------------------------------------------------------- the properties


# Why a delivery whose envelope is sound may still be parked whole: it cannot be read at all.
WHOLE_PARKING_REASONS = ("JSON nested too deep", "body is not JSON we can read", "platforms document")


def check(webhook: Webhook, tape: Tape, delivery: Delivery) -> None:
    raw = serialize(tape, delivery.value)
    signed_headers, verifiable = (tiktok_headers if delivery.channel == "tiktok" else meta_headers)(tape, raw)
    content_type = tape.choice(["application/json", "application/octet-stream"])  # text, or base64 in the event
    kept = webhook.post(delivery.channel, {"content-type": content_type, **signed_headers}, raw)

    event("signed" if verifiable else "signature broken")
    event(f"{delivery.items} events sent" if delivery.items < 3 else "3 or more events sent")
    if not verifiable:
        assert kept.status == 401
        assert (kept.queued, kept.parked, kept.s3) == ([], [], {}), "an unverifiable request kept something"
        return
    assert kept.status == 200, kept.answer
    assert not any(record["reason"].startswith(PARSER_FAILED) for record in kept.parked), kept.parked[0]["reason"]
    if any("s3" in record for record in kept.parked):
        event("a payload parked through S3")
    if isinstance(kept.answer.get("parked"), str):  # parked whole: kept byte for byte, nothing queued
        event("parked whole: " + re.sub(r"\d+", "N", re.split(r"[;:('\[{]", kept.answer["parked"])[0]))
        [record] = kept.parked
        assert (kept.queued, record["reason"], kept.payload_of(record)) == ([], kept.answer["parked"], raw)
        if not delivery.structural and delivery.channel != "tiktok":  # a sound envelope is read item by item, if at all
            assert any(reason in record["reason"] for reason in WHOLE_PARKING_REASONS), record["reason"]
        if not delivery.structural and delivery.items:
            assert record["reason"] != NOTHING_RECOGNISED
        return
    assert kept.answer == {"accepted": len(kept.queued), "parked": len(kept.parked)}
    for record in kept.parked:
        kept.payload_of(record)  # every record holds its payload, or names one S3 has
    event(f"read item by item: {'some' if kept.queued else 'none'} queued, {'some' if kept.parked else 'none'} parked")
    if not delivery.structural:
        assert len(kept.queued) + len(kept.parked) == delivery.items, "an event was dropped or counted twice"


tapes = st.binary(min_size=TAPE_BYTES, max_size=TAPE_BYTES)


@WEBHOOK_FUZZ
@given(tapes)
def test_whatsapp(webhook: Webhook, data: bytes) -> None:
    tape = Tape(data)
    check(webhook, tape, whatsapp_delivery(tape))


@WEBHOOK_FUZZ
@given(tapes)
def test_messenger(webhook: Webhook, data: bytes) -> None:
    tape = Tape(data)
    check(webhook, tape, messaging_delivery(tape, "messenger"))


@WEBHOOK_FUZZ
@given(tapes)
def test_instagram(webhook: Webhook, data: bytes) -> None:
    tape = Tape(data)
    check(webhook, tape, messaging_delivery(tape, "instagram"))


@WEBHOOK_FUZZ
@given(tapes)
def test_tiktok(webhook: Webhook, data: bytes) -> None:
    tape = Tape(data)
    check(webhook, tape, tiktok_delivery(tape))


@settings(WEBHOOK_FUZZ, max_examples=min(WEBHOOK_FUZZ.max_examples, 300))
@given(
    st.sampled_from(["whatsapp", "messenger", "instagram", "tiktok", "telegram"]),
    st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]), st.text(max_size=20)),
)
def test_handshakes(webhook: Webhook, channel: str, query: dict[str, str]) -> None:
    target = f"/webhooks/{channel}?" + "&".join(
        f"{quote(k)}={quote(v, safe='', errors='surrogatepass')}" for k, v in query.items()
    )
    kept = webhook.request(GET_ROUTE, target, {}, b"")
    assert kept.status in (200, 403, 404, 405)
    assert (kept.queued, kept.parked) == ([], [])
