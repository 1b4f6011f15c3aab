"""The four webhook dialects, one module per platform: signature, handshake and payload shapes.

The webhook rule (domain/webhooks.py) picks one by the {channel} path segment from CHANNELS.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import cast

from messaging_partner.domain.ports import WebhookChannel

from . import instagram, messenger, tiktok, whatsapp

CHANNELS: Mapping[str, WebhookChannel] = MappingProxyType(
    {
        channel.CHANNEL.value: channel
        for channel in (cast(WebhookChannel, whatsapp), messenger.channel, instagram.channel, cast(WebhookChannel, tiktok))
    }
)
