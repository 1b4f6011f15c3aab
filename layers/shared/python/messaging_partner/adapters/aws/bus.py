"""EventBridge publishing of domain events."""

from __future__ import annotations

from collections.abc import Sequence

from messaging_partner.domain.domain_events import EVENT_SOURCE, DomainEvent
from messaging_partner.domain.errors import DeliveryFailed

from .clients import client
from .queues import delivery_errors

PUT_EVENTS_LIMIT = 10


class EventBridgePublisher:
    def __init__(self, bus_name: str) -> None:
        self._bus_name = bus_name

    def publish(self, events: Sequence[DomainEvent]) -> None:
        events_client = client("events")
        for start in range(0, len(events), PUT_EVENTS_LIMIT):
            entries = [
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": event.detail_type,
                    "Detail": event.model_dump_json(exclude_none=True),
                    "EventBusName": self._bus_name,
                }
                for event in events[start : start + PUT_EVENTS_LIMIT]
            ]
            with delivery_errors(self._bus_name):
                response = events_client.put_events(Entries=entries)
                if response.get("FailedEntryCount"):
                    results = response["Entries"]
                    retry = [entry for entry, result in zip(entries, results, strict=False) if result.get("ErrorCode")]
                    if events_client.put_events(Entries=retry).get("FailedEntryCount"):
                        raise DeliveryFailed(f"EventBridge refused {len(retry)} events on bus {self._bus_name}")
