"""One module per platform; the webhook picks one by the {channel} path segment."""

from __future__ import annotations

from typing import cast

from . import whatsapp
from .base import WebhookChannel

_CHANNELS: dict[str, WebhookChannel] = {module.CHANNEL.value: cast(WebhookChannel, module) for module in (whatsapp,)}


def channel_module(name: str) -> WebhookChannel | None:
    return _CHANNELS.get(name)


def supported_channels() -> tuple[str, ...]:
    return tuple(_CHANNELS)
