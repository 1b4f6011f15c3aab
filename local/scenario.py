"""Signed platform deliveries in the documented shapes, for the demo, the end-to-end tests and the benchmarks.

WhatsApp shapes follow reference/meta_and_peers.md A1.3-A1.5.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

DEMO_PHONE_NUMBER_ID = "106540352242922"
DEMO_DISPLAY_NUMBER = "15550783881"
DEMO_WABA_ID = "102290129340398"


@dataclass(frozen=True)
class WhatsAppMessage:
    customer: str  # wa_id (phone) or, with bsuid, the business-scoped user id
    message_id: str
    timestamp: int
    text: str | None = None
    kind: str = "text"
    name: str = "Customer"
    bsuid: bool = False
    referral: dict[str, Any] | None = None

    def payload(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(contact, message) as they sit in a change value."""
        contact: dict[str, Any] = {"profile": {"name": self.name}}
        message: dict[str, Any] = {"id": self.message_id, "timestamp": str(self.timestamp), "type": self.kind}
        if self.bsuid:
            contact["user_id"] = self.customer
            message["from_user_id"] = self.customer
        else:
            contact["wa_id"] = self.customer
            message["from"] = self.customer
        if self.kind == "text":
            message["text"] = {"body": self.text or ""}
        elif self.kind in ("image", "video", "document"):
            message[self.kind] = {"id": f"media-{self.message_id}", "mime_type": "image/jpeg", "caption": self.text}
        if self.referral is not None:
            message["referral"] = self.referral
        return contact, message


@dataclass(frozen=True)
class WhatsAppChange:
    messages: tuple[WhatsAppMessage, ...] = ()
    statuses: tuple[dict[str, Any], ...] = ()
    phone_number_id: str = DEMO_PHONE_NUMBER_ID


@dataclass(frozen=True)
class Delivery:
    label: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    expected_status: int = 200


def whatsapp_body(*changes: WhatsAppChange, entries: int = 1) -> bytes:
    """A webhook body; with entries > 1 the changes are spread over that many entry objects."""
    change_objects = []
    for change in changes:
        contacts, messages = [], []
        for message in change.messages:
            contact, body = message.payload()
            contacts.append(contact)
            messages.append(body)
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": DEMO_DISPLAY_NUMBER, "phone_number_id": change.phone_number_id},
        }
        if messages:
            value["contacts"] = contacts
            value["messages"] = messages
        if change.statuses:
            value["statuses"] = list(change.statuses)
        change_objects.append({"value": value, "field": "messages"})
    per_entry = max(1, -(-len(change_objects) // entries))
    entry_list = [
        {"id": DEMO_WABA_ID, "changes": change_objects[i : i + per_entry]} for i in range(0, len(change_objects), per_entry)
    ]
    return json.dumps({"object": "whatsapp_business_account", "entry": entry_list}, ensure_ascii=False).encode()


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_whatsapp(label: str, body: bytes, secret: str, expected_status: int = 200) -> Delivery:
    return Delivery(
        label, body, {"content-type": "application/json", "x-hub-signature-256": hub_signature(secret, body)}, expected_status
    )


def meta_ad_referral(ad_id: str) -> dict[str, Any]:
    return {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": ad_id,
        "source_type": "ad",
        "body": "Summer sneakers are here!",
        "headline": "Chat with us",
        "media_type": "image",
        "image_url": "https://scontent.xx.fbcdn.net/ad.jpg",
        "ctwa_clid": "Aff-n8ZTODiE79d22K",
        "welcome_message": {"text": "Hi there! Let us know how we can help!"},
    }


@dataclass(frozen=True)
class DemoScenario:
    deliveries: list[Delivery]
    customers: dict[str, int]  # stored customer id -> messages we expect stored
    refused_customers: tuple[str, ...]  # customers whose messages must not exist anywhere
    meta_ad_customers: tuple[str, ...]


def demo_scenario(meta_app_secret: str, start: int = 1_763_800_000) -> DemoScenario:
    """Several customers, a Click-to-WhatsApp (Meta ad) start, two entries in one POST, a status,
    a BSUID-only customer, a duplicate delivery and one bad signature."""
    ana = WhatsAppMessage("351910000001", "wamid.ANA1", start, "Hi! Do you ship sneakers to Lisbon?", name="Ana")
    ben_text = WhatsAppMessage("447700900002", "wamid.BEN1", start + 5, "Is the blue model in stock?", name="Ben")
    ben_photo = WhatsAppMessage("447700900002", "wamid.BEN2", start + 6, "this one", kind="image", name="Ben")
    chloe = WhatsAppMessage(
        "33612000003",
        "wamid.CHL1",
        start + 9,
        "Hello, I saw your ad",
        name="Chloe",
        referral=meta_ad_referral("120226305854810726"),
    )
    dev = WhatsAppMessage("919800000004", "wamid.DEV1", start + 12, "Price for size 44?", name="Dev")
    ana_again = WhatsAppMessage("351910000001", "wamid.ANA2", start + 15, "And how long does delivery take?", name="Ana")
    noor = WhatsAppMessage(
        "AE.1502576394655843", "wamid.NOOR1", start + 20, "Salam! Do you have size 38?", name="Noor", bsuid=True
    )
    eve = WhatsAppMessage("12025550005", "wamid.EVE1", start + 25, "forged message", name="Eve")
    status = {"id": "wamid.OUT1", "status": "delivered", "timestamp": str(start + 30), "recipient_id": "351910000001"}

    first = signed_whatsapp("Ana writes", whatsapp_body(WhatsAppChange((ana,))), meta_app_secret)
    deliveries = [
        first,
        signed_whatsapp("Ben sends a text and a photo", whatsapp_body(WhatsAppChange((ben_text, ben_photo))), meta_app_secret),
        signed_whatsapp(
            "Chloe arrives from a Meta click-to-WhatsApp ad", whatsapp_body(WhatsAppChange((chloe,))), meta_app_secret
        ),
        signed_whatsapp(
            "Dev and Ana in two entries of one POST",
            whatsapp_body(WhatsAppChange((dev,)), WhatsAppChange((ana_again,)), entries=2),
            meta_app_secret,
        ),
        signed_whatsapp("Noor, known only by her BSUID", whatsapp_body(WhatsAppChange((noor,))), meta_app_secret),
        signed_whatsapp(
            "A delivery status (not a customer message)", whatsapp_body(WhatsAppChange(statuses=(status,))), meta_app_secret
        ),
        Delivery("Meta retries Ana's first delivery", first.body, first.headers),
        Delivery(
            "A forged delivery with a bad signature",
            whatsapp_body(WhatsAppChange((eve,))),
            {"content-type": "application/json", "x-hub-signature-256": hub_signature("not-the-app-secret", b"forged")},
            expected_status=401,
        ),
    ]
    return DemoScenario(
        deliveries=deliveries,
        customers={"351910000001": 2, "447700900002": 2, "33612000003": 1, "919800000004": 1, "AE.1502576394655843": 1},
        refused_customers=("12025550005",),
        meta_ad_customers=("33612000003",),
    )
