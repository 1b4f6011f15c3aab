"""AdLookups table: pk AD#<advertiser_id>#<ad_id>, the resolved card, expiring (TTL) so names refresh."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

from messaging_partner.domain.models import AdReference

from .clients import client
from .codec import from_item, to_item

CARD_TTL_SECONDS = 7 * 86400
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25


def ad_pk(advertiser_id: str, ad_id: str) -> str:
    return f"AD#{advertiser_id}#{ad_id}"


class DynamoAdCache:
    def __init__(self, table_name: str, clock: Callable[[], float] = time.time) -> None:
        self._table = table_name
        self._clock = clock

    def get_many(self, advertiser_id: str, ad_ids: Iterable[str]) -> dict[str, AdReference]:
        ids, found = list(ad_ids), {}
        now = self._clock()
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            keys = [to_item({"pk": ad_pk(advertiser_id, a)}) for a in ids[start : start + BATCH_GET_LIMIT]]
            request = {self._table: {"Keys": keys}}
            while request:  # UnprocessedKeys under throttling
                answer = client("dynamodb").batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._table, []):
                    values = from_item(item)
                    if values.get("expires_at", 0) > now:  # TTL deletion lags: an expired card is a miss
                        card = AdReference.model_validate(json.loads(values["card"]))
                        found[str(card.ad_id)] = card
                request = answer.get("UnprocessedKeys") or {}
        return found

    def put_many(self, advertiser_id: str, cards: Iterable[AdReference]) -> None:
        now = int(self._clock())
        puts = [
            {
                "PutRequest": {
                    "Item": to_item(
                        {
                            "pk": ad_pk(advertiser_id, str(card.ad_id)),
                            "card": card.model_dump_json(exclude_none=True),
                            "fetched_at": now,
                            "expires_at": now + CARD_TTL_SECONDS,
                        }
                    )
                }
            }
            for card in cards
            if card.ad_id
        ]
        for start in range(0, len(puts), BATCH_WRITE_LIMIT):
            request = {self._table: puts[start : start + BATCH_WRITE_LIMIT]}
            while request:
                request = client("dynamodb").batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
