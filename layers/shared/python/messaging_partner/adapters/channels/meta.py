"""What WhatsApp Cloud API, Messenger and Instagram share: the handshake and X-Hub-Signature-256.

Sources: reference/meta_and_peers.md A1.1 (handshake) and A1.2 (signature over the raw bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from messaging_partner.domain.errors import UnparseablePayload
from messaging_partner.domain.models import WebhookRequest
from messaging_partner.domain.ports import SecretSource

from .base import load_json_object, shown

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="
# The whole header, in ASCII: anything else (another algorithm, non-ASCII look-alike digits, two values
# joined by a proxy) is refused before any comparison; compare_digest refuses non-ASCII str with a TypeError.
_HEADER = re.compile(r"sha256=([0-9a-fA-F]{64})", re.ASCII)


def hub_signature(app_secret: str, raw_body: bytes) -> str:
    digest = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_hub_signature(app_secret: str, raw_body: bytes, header_value: str | None) -> bool:
    """True when the header is ``sha256=<hex>`` of the raw bytes under the app secret."""
    offered = _HEADER.fullmatch(header_value) if header_value else None
    if offered is None:
        return False
    expected = hub_signature(app_secret, raw_body)
    # Meta sends lowercase hex; accept uppercase too rather than refuse a genuine delivery.
    return hmac.compare_digest(expected.encode(), (_PREFIX + offered.group(1).lower()).encode())


def answer_handshake(query: Mapping[str, str], verify_token: str) -> str | None:
    """The challenge to echo when Meta's subscribe handshake carries our verify token, else None."""
    if query.get("hub.mode") != "subscribe":
        return None
    offered = query.get("hub.verify_token", "")
    # surrogatepass: a query string is anyone's text; it must fail the comparison, never the encoding.
    if not hmac.compare_digest(offered.encode("utf-8", "surrogatepass"), verify_token.encode()):
        return None
    challenge = query.get("hub.challenge")
    return challenge if challenge else None


def verify_request(request: WebhookRequest, secrets: SecretSource) -> bool:
    return verify_hub_signature(secrets.meta_app_secret(), request.raw_body, request.header(SIGNATURE_HEADER))


def handshake_with_verify_token(query: Mapping[str, str], secrets: SecretSource) -> str | None:
    return answer_handshake(query, secrets.meta_verify_token())


def meta_entries(raw_body: bytes, object_type: str) -> list[Any]:
    """The entry[] of a Meta webhook body for this object type; UnparseablePayload otherwise."""
    payload = load_json_object(raw_body)
    if payload.get("object") != object_type:
        raise UnparseablePayload(f"object is {shown(payload.get('object'))}, expected {object_type!r}")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise UnparseablePayload("entry is missing or not a list")
    return entries
