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
    content: dict[str, Any] | None = None  # the type's own object, for reactions, edits, revokes, system notices
    phone: str | None = None  # with bsuid: the phone number the payload also carries
    raw_timestamp: str | int | None = None  # sent as is instead of the seconds string (test payloads, relays)

    def payload(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(contact, message) as they sit in a change value."""
        contact: dict[str, Any] = {"profile": {"name": self.name}}
        timestamp = self.raw_timestamp if self.raw_timestamp is not None else str(self.timestamp)
        message: dict[str, Any] = {"id": self.message_id, "timestamp": timestamp, "type": self.kind}
        if self.bsuid:
            contact["user_id"] = self.customer
            message["from_user_id"] = self.customer
        if not self.bsuid or self.phone:
            contact["wa_id"] = self.phone or self.customer
            message["from"] = self.phone or self.customer
        if self.kind == "text":
            message["text"] = {"body": self.text or ""}
        elif self.kind in ("image", "video", "document"):
            message[self.kind] = {"id": f"media-{self.message_id}", "mime_type": "image/jpeg", "caption": self.text}
        elif self.content is not None:
            message[self.kind] = self.content
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
    channel: str = "whatsapp"


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


def signed_meta(label: str, body: bytes, secret: str, channel: str = "whatsapp", expected_status: int = 200) -> Delivery:
    """A WhatsApp, Messenger or Instagram delivery: all three carry X-Hub-Signature-256."""
    headers = {"content-type": "application/json", "x-hub-signature-256": hub_signature(secret, body)}
    return Delivery(label, body, headers, expected_status, channel)


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


# ---------------------------------------------------------------- Messenger and Instagram (A2, A3)
DEMO_PAGE_ID = "104650435882311"
DEMO_INSTAGRAM_ID = "17841405822304914"


def meta_messaging_body(object_type: str, business_id: str, *items: dict[str, Any]) -> bytes:
    """A Messenger ("page") or Instagram ("instagram") webhook body with one entry."""
    entry = {"id": business_id, "time": 1_763_800_000_000, "messaging": list(items)}
    return json.dumps({"object": object_type, "entry": [entry]}, ensure_ascii=False).encode()


def messaging_message(
    customer: str, business_id: str, mid: str, timestamp_ms: int, text: str | None = None, referral: dict[str, Any] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid}
    if text is not None:
        message["text"] = text
    else:
        message["attachments"] = [{"type": "image", "payload": {"url": "https://cdn.example/photo.jpg"}}]
    if referral is not None:
        message["referral"] = referral
    return {"sender": {"id": customer}, "recipient": {"id": business_id}, "timestamp": timestamp_ms, "message": message}


def messaging_echo(customer: str, business_id: str, mid: str, timestamp_ms: int, text: str) -> dict[str, Any]:
    message = {"is_echo": True, "app_id": 1517776481860111, "mid": mid, "text": text}
    return {"sender": {"id": business_id}, "recipient": {"id": customer}, "timestamp": timestamp_ms, "message": message}


def messaging_referral(customer: str, business_id: str, timestamp_ms: int, referral: dict[str, Any]) -> dict[str, Any]:
    return {"sender": {"id": customer}, "recipient": {"id": business_id}, "timestamp": timestamp_ms, "referral": referral}


def messaging_unsend(customer: str, business_id: str, mid: str, timestamp_ms: int) -> dict[str, Any]:
    """The customer unsent their message `mid` (Instagram documents is_deleted; Messenger sends the same)."""
    message = {"mid": mid, "is_deleted": True}
    return {"sender": {"id": customer}, "recipient": {"id": business_id}, "timestamp": timestamp_ms, "message": message}


def messaging_read(customer: str, business_id: str, timestamp_ms: int) -> dict[str, Any]:
    return {
        "sender": {"id": customer},
        "recipient": {"id": business_id},
        "timestamp": timestamp_ms,
        "read": {"watermark": timestamp_ms},
    }


def click_to_messenger_referral(ad_id: str, ad_title: str) -> dict[str, Any]:
    return {
        "ref": "spring_sale",
        "ad_id": ad_id,
        "source": "ADS",
        "type": "OPEN_THREAD",
        "ads_context_data": {
            "ad_title": ad_title,
            "photo_url": "https://scontent.example/ad.jpg",
            "post_id": "104650435882311_2",
        },
    }


# ---------------------------------------------------------------- TikTok Business Messaging (tiktok.md 6c, 6d)
DEMO_TIKTOK_BUSINESS_ID = "-000Wz6R0bYgtq7a1pD3hFx2mV2sYcQ2kF8Jx"
DEMO_TIKTOK_APP_ID = "local-tiktok-app"


def tiktok_body(event: str, business_id: str, content: dict[str, Any], create_time: int) -> bytes:
    """A Business Messaging webhook body: `content` travels as a JSON string inside the JSON."""
    envelope = {
        "client_key": DEMO_TIKTOK_APP_ID,
        "event": event,
        "create_time": create_time,
        "user_openid": business_id,
        "content": json.dumps(content, ensure_ascii=False),
    }
    return json.dumps(envelope, ensure_ascii=False).encode()


def tiktok_users(customer: str, business_id: str, inbound: bool = True) -> dict[str, Any]:
    personal = {"id": customer, "role": "personal_account"}
    business = {"id": business_id, "role": "business_account"}
    return {"from_user": personal, "to_user": business} if inbound else {"from_user": business, "to_user": personal}


def tiktok_text_content(
    customer: str, business_id: str, message_id: str, timestamp_ms: int, text: str, inbound: bool = True
) -> dict[str, Any]:
    return {
        "from": "customer" if inbound else "brand",
        "to": "brand" if inbound else "customer",
        **tiktok_users(customer, business_id, inbound),
        "conversation_id": f"conv-{customer}",
        "message_id": message_id,
        "timestamp": timestamp_ms,
        "type": "text",
        "text": {"body": text},
        "scene_type": 0,
        "is_follower": False,
        "message_tag": {"source": "APP" if inbound else "API"},
    }


def tiktok_ad_referral_content(customer: str, business_id: str, timestamp_ms: int, ad: dict[str, Any]) -> dict[str, Any]:
    return {
        **tiktok_users(customer, business_id),
        "timestamp": timestamp_ms,
        "referral": {"source": "ad", "ad": {"timestamp": timestamp_ms, **ad}},
    }


def tiktok_short_link_content(customer: str, business_id: str, timestamp_ms: int, ref: str) -> dict[str, Any]:
    short_link = {"ref": ref, "prefilled_message": "Hi! I want the VIP offer", "prefilled_message_audit_status": "PASS"}
    return {
        **tiktok_users(customer, business_id),
        "timestamp": timestamp_ms,
        "referral": {"source": "short_link", "short_link": short_link},
    }


def tiktok_reaction_content(
    customer: str, business_id: str, message_id: str, timestamp_ms: int, original_message_id: str
) -> dict[str, Any]:
    content = tiktok_text_content(customer, business_id, message_id, timestamp_ms, "")
    del content["text"]
    reaction = {"operation": "ADD", "type": "EMOJI", "emoji": "\u2764\ufe0f", "original_msg_id": original_message_id}
    return content | {"type": "reaction", "reaction": [reaction | {"timestamp": timestamp_ms, "unique_identifier": customer}]}


def tiktok_ping_body(create_time_ms: int) -> bytes:
    """TikTok's URL check, as seen in the wild: create_time in milliseconds, no conversation."""
    envelope = {
        "client_key": DEMO_TIKTOK_APP_ID,
        "event": "tiktok.ping",
        "create_time": create_time_ms,
        "user_openid": DEMO_TIKTOK_BUSINESS_ID,
        "content": json.dumps({"reason": "testing Webhook"}),
    }
    return json.dumps(envelope).encode()


def tiktok_signature_header(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


def signed_tiktok(label: str, body: bytes, secret: str, timestamp: int, expected_status: int = 200) -> Delivery:
    headers = {"content-type": "application/json", "tiktok-signature": tiktok_signature_header(secret, body, timestamp)}
    return Delivery(label, body, headers, expected_status, "tiktok")


# ---------------------------------------------------------------- the demo scenario
@dataclass(frozen=True)
class DemoScenario:
    deliveries: list[Delivery]
    conversations: dict[str, tuple[str, int]]  # conversation key -> (source, customer messages) we expect stored
    refused_keys: tuple[str, ...]  # conversations that must not exist: their only deliveries were refused
    events: dict[str, tuple[str, ...]]  # conversation key -> the conversation events kept under it, by kind
    parked: tuple[str, ...]  # the reasons ParkedQueue must hold
    redated_keys: tuple[str, ...]  # conversations dated by receipt, their platform time being unusable
    keywords: list[dict[str, Any]]  # the ad account's keyword list, set through the admin API first
    signals: dict[str, frozenset[str]]  # conversation key -> the signals it must send (conversation, keywords)
    private: tuple[str, ...]  # texts customers wrote and identifiers not in a conversation key: none may reach TikTok
    quiet_follow_ups: list[Delivery]  # later messages that match no keyword: they must cost no DynamoDB request
    repeat_follow_up: Delivery  # a later message repeating a keyword its conversation already signalled


# The ad account's keywords in the demo: seven languages, one accent-insensitive.
DEMO_KEYWORDS = [
    {"keyword": "how much", "signal": "price"},
    {"keyword": "pay", "signal": "payment"},
    {"keyword": "多少钱", "signal": "price"},
    {"keyword": "付款", "signal": "payment"},
    {"keyword": "ราคา", "signal": "price"},
    {"keyword": "giá", "signal": "price"},
    {"keyword": "оплата", "signal": "payment"},
    {"keyword": "السعر", "signal": "price"},
    {"keyword": "pagar", "signal": "payment"},
    {"keyword": "precio", "signal": "price", "accent_insensitive": True},
]


def demo_scenario(meta_app_secret: str, tiktok_app_secret: str, now: int) -> DemoScenario:
    """All four platforms, with their awkward variants: a Meta click-to-WhatsApp and click-to-Messenger
    ad, a TikTok tracking ID in a WhatsApp message, two entries in one POST, a status, a BSUID-only
    customer, echoes, a read, TikTok DM ad clicks before any message (two ads, a Smart+ creative and
    an ad TikTok no longer knows), a tiktok.me link, an EEA-stripped event, duplicates and bad signatures;
    and what is not a customer message: a reaction, an edit, an unsent message, a reaction from someone
    with no conversation, TikTok's URL check, a change of a field nobody knows; a customer named by phone
    and BSUID and then by phone alone; a Meta test payload whose time reads as 1970."""
    start = now - 600
    wa = DEMO_PHONE_NUMBER_ID
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
    dev = WhatsAppMessage(
        "919800000004",
        "wamid.DEV1",
        start + 12,
        "TikTok ID: 7412345678901234567. Hello! I came across your ad on TikTok",
        name="Dev",
    )
    ana_again = WhatsAppMessage("351910000001", "wamid.ANA2", start + 15, "And how long does delivery take?", name="Ana")
    noor = WhatsAppMessage(
        "AE.1502576394655843", "wamid.NOOR1", start + 20, "Salam! Do you have size 38?", name="Noor", bsuid=True
    )
    eve = WhatsAppMessage("12025550005", "wamid.EVE1", start + 25, "forged message", name="Eve")
    ana_reacts = WhatsAppMessage(
        "351910000001", "wamid.ANA3", start + 31, kind="reaction", content={"message_id": "wamid.OUT1", "emoji": "\U0001f44d"}
    )
    edited = {"original_message_id": "wamid.BEN1", "message": {"type": "text", "text": {"body": "Is the blue model in 44?"}}}
    ben_edits = WhatsAppMessage("447700900002", "wamid.BEN3", start + 32, kind="edit", content=edited, name="Ben")
    omar_both = WhatsAppMessage(
        "EG.2015550198765432", "wamid.OMAR1", start + 33, "Hi, price for the runners?", "text", "Omar", True, phone="201005550006"
    )
    omar_phone = WhatsAppMessage("201005550006", "wamid.OMAR2", start + 34, "And for kids?", name="Omar")
    pia = WhatsAppMessage("5511900000007", "wamid.PIA1", start + 35, "Oi!", name="Pia", raw_timestamp="1517")
    unknown_field = {"field": "made_up_field", "value": {"messaging_product": "whatsapp", "event": "SOMETHING_NEW"}}
    # Keyword signals in seven languages (the ad account's list is DEMO_KEYWORDS).
    tom = WhatsAppMessage("12025550014", "wamid.TOM1", start + 40, "How much are they? Can I pay by card?", name="Tom")
    li = WhatsAppMessage("8613800000008", "wamid.LI1", start + 41, "你好，这双鞋多少钱？我想付款", name="Li")
    somchai = WhatsAppMessage("66810000009", "wamid.SOM1", start + 42, "ราคาเท่าไหร่ครับ", name="Somchai")
    minh = WhatsAppMessage("84900000010", "wamid.MINH1", start + 43, "Đôi này giá bao nhiêu?", name="Minh")
    lucia = WhatsAppMessage("34600000013", "wamid.LUC1", start + 44, "¿Puedo pagar con tarjeta? ¿Qué précio tiene?", name="Lucia")
    # Later, in warm containers: thanks in four languages, then Minh asks about price again.
    tom_thanks = WhatsAppMessage("12025550014", "wamid.TOM2", start + 50, "Thanks, see you tomorrow", name="Tom")
    li_thanks = WhatsAppMessage("8613800000008", "wamid.LI2", start + 51, "谢谢！", name="Li")
    olga_thanks = messaging_message("6985000000000011", DEMO_PAGE_ID, "m_OLGA2", (start + 52) * 1000, "Спасибо!")
    karim_thanks = messaging_message("17841400000000012", DEMO_INSTAGRAM_ID, "ig_KARIM2", (start + 53) * 1000, "شكرا جزيلا")
    minh_again = WhatsAppMessage("84900000010", "wamid.MINH2", start + 54, "Giá ship bao nhiêu?", name="Minh")
    li_first = signed_meta(
        "WhatsApp: Li writes in Chinese (price, payment)", whatsapp_body(WhatsAppChange((li,))), meta_app_secret
    )
    status = {"id": "wamid.OUT1", "status": "delivered", "timestamp": str(start + 30), "recipient_id": "351910000001"}
    first = signed_meta("WhatsApp: Ana writes", whatsapp_body(WhatsAppChange((ana,))), meta_app_secret)

    page, ig, tt = DEMO_PAGE_ID, DEMO_INSTAGRAM_ID, DEMO_TIKTOK_BUSINESS_ID
    ms = start * 1000
    farah = messaging_message(
        "6985000000000001",
        page,
        "m_FARAH1",
        ms + 40_000,
        "Is the spring sale still on?",
        referral=click_to_messenger_referral("6045246247433", "Spring sneakers"),
    )
    farah_echo = messaging_echo("6985000000000001", page, "m_PAGE1", ms + 45_000, "Yes, until Sunday!")
    gabi = messaging_message("17841400000000002", ig, "ig_GABI1", ms + 50_000, "Do you restock the white ones?")
    olga = messaging_message("6985000000000011", page, "m_OLGA1", ms + 80_000, "Возможна оплата картой?")
    karim = messaging_message("17841400000000012", ig, "ig_KARIM1", ms + 81_000, "ما هو السعر؟")
    gabi_read = messaging_read("17841400000000002", ig, ms + 55_000)

    ad = {
        "advertiser_id": "7100000000000000001",
        "ad_id": "1790000000000001",
        "ad_name": "Sneakers DM ad",
        "embed_url": "https://www.tiktok.com/embed/v2/1790000000000001",
    }
    ivy_click = tiktok_body("im_referral_msg", tt, tiktok_ad_referral_content("tt-ivy", tt, ms + 60_000, ad), now)
    jon_link = tiktok_body("im_referral_msg", tt, tiktok_short_link_content("tt-jon", tt, ms + 62_000, "vip_2026"), now)
    jon_text = tiktok_body(
        "im_receive_msg", tt, tiktok_text_content("tt-jon", tt, "tt-msg-JON1", ms + 63_000, "I want the VIP offer"), now
    )
    reply = tiktok_body(
        "im_send_msg", tt, tiktok_text_content("tt-jon", tt, "tt-msg-OUT1", ms + 64_000, "Welcome!", inbound=False), now
    )
    boots = {"advertiser_id": "7100000000000000001", "ad_id": "1790000000000002", "ad_name": "Boots DM ad"}
    kai_click = tiktok_body("im_referral_msg", tt, tiktok_ad_referral_content("tt-kai", tt, ms + 60_500, boots), now)
    smart = {"advertiser_id": "7100000000000000001", "ad_id": "1800000000000009", "message_material_id": "mm-42"}
    lea_click = tiktok_body("im_referral_msg", tt, tiktok_ad_referral_content("tt-lea", tt, ms + 61_000, smart), now)
    gone = {"advertiser_id": "7100000000000000001", "ad_id": "1799999999999999", "ad_name": "Flash sale"}
    max_click = tiktok_body("im_referral_msg", tt, tiktok_ad_referral_content("tt-max", tt, ms + 61_500, gone), now)
    eu = tiktok_body(
        "im_receive_msg_eu", tt, {"to": "brand", "to_user": {"id": tt, "role": "business_account"}, "timestamp": ms + 65_000}, now
    )
    kim = tiktok_body("im_receive_msg", tt, tiktok_text_content("tt-kim", tt, "tt-msg-KIM1", ms + 66_000, "forged"), now)
    zoe = tiktok_body("im_receive_msg", tt, tiktok_reaction_content("tt-zoe", tt, "tt-msg-ZOE1", ms + 67_000, "tt-msg-OUT9"), now)
    unknown_body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [unknown_field]}]})

    deliveries = [
        first,
        signed_meta(
            "WhatsApp: Ben sends a text and a photo", whatsapp_body(WhatsAppChange((ben_text, ben_photo))), meta_app_secret
        ),
        signed_meta("WhatsApp: Chloe from a Meta click-to-WhatsApp ad", whatsapp_body(WhatsAppChange((chloe,))), meta_app_secret),
        signed_meta(
            "WhatsApp: Dev and Ana in two entries of one POST",
            whatsapp_body(WhatsAppChange((dev,)), WhatsAppChange((ana_again,)), entries=2),
            meta_app_secret,
        ),
        signed_meta("WhatsApp: Noor, known only by her BSUID", whatsapp_body(WhatsAppChange((noor,))), meta_app_secret),
        signed_meta("WhatsApp: a delivery status", whatsapp_body(WhatsAppChange(statuses=(status,))), meta_app_secret),
        Delivery("WhatsApp: Meta retries Ana's first delivery", first.body, first.headers),
        Delivery(
            "WhatsApp: a forged delivery (bad signature)",
            whatsapp_body(WhatsAppChange((eve,))),
            {"content-type": "application/json", "x-hub-signature-256": hub_signature("not-the-app-secret", b"forged")},
            expected_status=401,
        ),
        signed_meta(
            "Messenger: Farah from a click-to-Messenger ad, page replies",
            meta_messaging_body("page", page, farah, farah_echo),
            meta_app_secret,
            "messenger",
        ),
        signed_meta(
            "Instagram: Gabi writes, then reads",
            meta_messaging_body("instagram", ig, gabi, gabi_read),
            meta_app_secret,
            "instagram",
        ),
        signed_tiktok("TikTok: Ivy clicks a DM ad (no message yet)", ivy_click, tiktok_app_secret, now),
        signed_tiktok("TikTok: Kai clicks another DM ad", kai_click, tiktok_app_secret, now),
        signed_tiktok("TikTok: Lea clicks an Upgraded Smart+ ad", lea_click, tiktok_app_secret, now),
        signed_tiktok("TikTok: Max clicks an ad TikTok no longer knows", max_click, tiktok_app_secret, now),
        signed_tiktok("TikTok: Jon opens a tiktok.me link", jon_link, tiktok_app_secret, now),
        signed_tiktok("TikTok: Jon writes", jon_text, tiktok_app_secret, now),
        signed_tiktok("TikTok: our reply comes back as im_send_msg", reply, tiktok_app_secret, now),
        signed_tiktok("TikTok: an EEA user writes (stripped)", eu, tiktok_app_secret, now),
        signed_tiktok("TikTok: the same message delivered again", jon_text, tiktok_app_secret, now),
        signed_tiktok("TikTok: a replayed delivery signed an hour ago", kim, tiktok_app_secret, now - 3600, expected_status=401),
        signed_meta("WhatsApp: Ana reacts to our reply", whatsapp_body(WhatsAppChange((ana_reacts,))), meta_app_secret),
        signed_meta("WhatsApp: Ben edits his question", whatsapp_body(WhatsAppChange((ben_edits,))), meta_app_secret),
        signed_meta(
            "Messenger: Farah unsends her message",
            meta_messaging_body("page", page, messaging_unsend("6985000000000001", page, "m_FARAH1", ms + 70_000)),
            meta_app_secret,
            "messenger",
        ),
        signed_tiktok("TikTok: Zoe reacts to one of our messages (no conversation)", zoe, tiktok_app_secret, now),
        signed_tiktok("TikTok: the URL check (tiktok.ping)", tiktok_ping_body(now * 1000), tiktok_app_secret, now),
        signed_meta("WhatsApp: Omar, by phone and BSUID", whatsapp_body(WhatsAppChange((omar_both,))), meta_app_secret),
        signed_meta("WhatsApp: Omar again, by phone alone", whatsapp_body(WhatsAppChange((omar_phone,))), meta_app_secret),
        signed_meta("WhatsApp: a test payload dated 1970 (Pia)", whatsapp_body(WhatsAppChange((pia,))), meta_app_secret),
        signed_meta("WhatsApp: a change of a field nobody knows", unknown_body.encode(), meta_app_secret),
        signed_meta("WhatsApp: Tom asks in English (price, payment)", whatsapp_body(WhatsAppChange((tom,))), meta_app_secret),
        li_first,
        signed_meta("WhatsApp: Somchai asks in Thai (price)", whatsapp_body(WhatsAppChange((somchai,))), meta_app_secret),
        signed_meta("WhatsApp: Minh asks in Vietnamese (price)", whatsapp_body(WhatsAppChange((minh,))), meta_app_secret),
        signed_meta("WhatsApp: Lucia asks in Spanish (payment, price)", whatsapp_body(WhatsAppChange((lucia,))), meta_app_secret),
        signed_meta(
            "Messenger: Olga asks in Russian (payment)", meta_messaging_body("page", page, olga), meta_app_secret, "messenger"
        ),
        signed_meta(
            "Instagram: Karim asks in Arabic (price)", meta_messaging_body("instagram", ig, karim), meta_app_secret, "instagram"
        ),
        Delivery("WhatsApp: Meta retries Li's delivery (no new signal)", li_first.body, li_first.headers),
    ]
    return DemoScenario(
        deliveries=deliveries,
        conversations={
            f"whatsapp#{wa}#351910000001": ("organic", 2),
            f"whatsapp#{wa}#447700900002": ("organic", 2),
            f"whatsapp#{wa}#33612000003": ("meta_ad", 1),
            f"whatsapp#{wa}#919800000004": ("tiktok_ad", 1),
            f"whatsapp#{wa}#AE.1502576394655843": ("organic", 1),
            f"messenger#{page}#6985000000000001": ("meta_ad", 1),
            f"instagram#{ig}#17841400000000002": ("organic", 1),
            f"tiktok#{tt}#tt-ivy": ("tiktok_ad", 0),
            f"tiktok#{tt}#tt-kai": ("tiktok_ad", 0),
            f"tiktok#{tt}#tt-lea": ("tiktok_ad", 0),
            f"tiktok#{tt}#tt-max": ("tiktok_ad", 0),
            f"tiktok#{tt}#tt-jon": ("tiktok_short_link", 1),
            f"whatsapp#{wa}#EG.2015550198765432": ("organic", 2),
            f"whatsapp#{wa}#5511900000007": ("organic", 1),
            f"whatsapp#{wa}#12025550014": ("organic", 1),
            f"whatsapp#{wa}#8613800000008": ("organic", 1),
            f"whatsapp#{wa}#66810000009": ("organic", 1),
            f"whatsapp#{wa}#84900000010": ("organic", 1),
            f"whatsapp#{wa}#34600000013": ("organic", 1),
            f"messenger#{page}#6985000000000011": ("organic", 1),
            f"instagram#{ig}#17841400000000012": ("organic", 1),
        },
        refused_keys=(f"whatsapp#{wa}#12025550005", f"tiktok#{tt}#tt-kim"),
        events={
            f"whatsapp#{wa}#351910000001": ("reaction",),
            f"whatsapp#{wa}#447700900002": ("edit",),
            f"messenger#{page}#6985000000000001": ("deletion",),
            f"tiktok#{tt}#tt-zoe": ("reaction",),
        },
        parked=("unknown WhatsApp webhook field 'made_up_field'",),
        redated_keys=(f"whatsapp#{wa}#5511900000007",),
        keywords=DEMO_KEYWORDS,
        signals={
            f"whatsapp#{wa}#919800000004": frozenset({"conversation"}),  # the tracking ID
            f"tiktok#{tt}#tt-ivy": frozenset({"conversation"}),
            f"tiktok#{tt}#tt-kai": frozenset({"conversation"}),
            f"tiktok#{tt}#tt-lea": frozenset({"conversation"}),
            f"tiktok#{tt}#tt-max": frozenset({"conversation"}),
            f"tiktok#{tt}#tt-jon": frozenset({"conversation"}),  # the tiktok.me link
            f"whatsapp#{wa}#12025550014": frozenset({"price", "payment"}),
            f"whatsapp#{wa}#8613800000008": frozenset({"price", "payment"}),
            f"whatsapp#{wa}#66810000009": frozenset({"price"}),
            f"whatsapp#{wa}#84900000010": frozenset({"price"}),
            f"whatsapp#{wa}#34600000013": frozenset({"payment", "price"}),
            f"messenger#{page}#6985000000000011": frozenset({"payment"}),
            f"instagram#{ig}#17841400000000012": frozenset({"price"}),
        },
        private=tuple(
            [
                m.text or ""
                for m in (ana, ben_text, chloe, dev, ana_again, noor, omar_both, omar_phone, tom, li, somchai, minh, lucia)
            ]
            + [item["message"]["text"] for item in (farah, gabi, olga, karim)]
            + ["I want the VIP offer", "201005550006"]  # Jon's words; Omar's phone, an alias of his BSUID
            + [m.text or "" for m in (tom_thanks, li_thanks, minh_again)]
            + [item["message"]["text"] for item in (olga_thanks, karim_thanks)]
        ),
        quiet_follow_ups=[
            signed_meta("WhatsApp: Tom says thanks", whatsapp_body(WhatsAppChange((tom_thanks,))), meta_app_secret),
            signed_meta("WhatsApp: Li says thanks", whatsapp_body(WhatsAppChange((li_thanks,))), meta_app_secret),
            signed_meta(
                "Messenger: Olga says thanks", meta_messaging_body("page", page, olga_thanks), meta_app_secret, "messenger"
            ),
            signed_meta(
                "Instagram: Karim says thanks", meta_messaging_body("instagram", ig, karim_thanks), meta_app_secret, "instagram"
            ),
        ],
        repeat_follow_up=signed_meta(
            "WhatsApp: Minh asks about price again", whatsapp_body(WhatsAppChange((minh_again,))), meta_app_secret
        ),
    )
