"""The lead counter's rule: which lead a new conversation counts as, on which day.

A routed conversation is one lead for its ad account on the day it started, in the ad
account's own time zone (TikTok reports days in it). Only TikTok ads count under AD#:
Meta's own ads, tiktok.me links and organic chats have buckets of their own, so nothing
else is ever credited to TikTok. adapters/aws/reports.py adds the lead to Reports in the
same write that opens the conversation (adapters/aws/conversations.py), so counters
always equal a recount and rollups never scan.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models import Conversation, ConversationSource, LeadCount


def lead_of(conversation: Conversation) -> LeadCount | None:
    """The lead a new conversation counts as; None when it is routed to no ad account (kept, counted as unrouted)."""
    if not conversation.advertiser_id or not conversation.day:
        return None
    return LeadCount(conversation.advertiser_id, conversation.day, lead_bucket(conversation))


def lead_bucket(conversation: Conversation) -> str:
    """The Reports sort key a new conversation counts under."""
    if conversation.source is ConversationSource.TIKTOK_AD:
        return f"AD#{conversation.ad.ad_id}" if conversation.ad and conversation.ad.ad_id else "AD#UNRESOLVED"
    return {
        ConversationSource.META_AD: "META_AD",
        ConversationSource.TIKTOK_SHORT_LINK: "SHORT_LINK",
    }.get(conversation.source, "ORGANIC")


def local_day(epoch_ms: int, timezone: str) -> str:
    """The calendar day of a moment in the advertiser's time zone (UTC when the zone is unknown)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).astimezone(zone).strftime("%Y-%m-%d")


def local_date(epoch_ms: int, timezone: str) -> date:
    return date.fromisoformat(local_day(epoch_ms, timezone))
