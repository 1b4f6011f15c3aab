"""One module per platform; the webhook picks one by the {channel} path segment."""

from __future__ import annotations

from typing import cast

from . import instagram, messenger, tiktok, whatsapp
from .base import WebhookChannel

_CHANNELS: dict[str, WebhookChannel] = {
    channel.CHANNEL.value: channel
    for channel in (cast(WebhookChannel, whatsapp), messenger.channel, instagram.channel, cast(WebhookChannel, tiktok))
}


def channel_module(name: str) -> WebhookChannel | None:
    return _CHANNELS.get(name)


def supported_channels() -> tuple[str, ...]:
    return tuple(_CHANNELS)
