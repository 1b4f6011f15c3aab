"""Reports table: pk RPT#<advertiser_id>#<day>, sk AD#<ad_id> / AD#UNRESOLVED / META_AD / SHORT_LINK / ORGANIC.

This repository owns the RPT# keys. Lead counters move with `ADD leads 1` inside the write
that opens the conversation (conversations.py asks for the item), so counts always equal
the conversations; which bucket and which day is the domain's rule (domain/leads.py).
The rollup SETs TikTok's numbers on the same items and never touches `leads`, so the two
writers never undo each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from messaging_partner.domain.models import LeadCount
from messaging_partner.domain.reports import NAME_METRICS, AdDayMetrics, ReportItem

from .clients import client
from .codec import from_item, to_item

METRIC_ATTRIBUTES = ("spend", "impressions", "clicks", "conversions", "tiktok_conversations", "currency", *NAME_METRICS)
# A lead counted in the same moment holds the item in a transaction; a plain write then fails with this, and
# botocore does not retry it. The transaction is over in milliseconds.
CONFLICT_RETRIES = 4


def report_pk(advertiser_id: str, day: str) -> str:
    return f"RPT#{advertiser_id}#{day}"


class DynamoReports:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def lead_increment(self, lead: LeadCount) -> dict[str, Any]:
        """The TransactWriteItems item that counts one lead."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": report_pk(lead.advertiser_id, lead.day), "sk": lead.bucket}),
                "UpdateExpression": "ADD leads :one",
                "ExpressionAttributeValues": to_item({":one": 1}),
            }
        }

    def items(self, advertiser_id: str, days: Sequence[str]) -> list[ReportItem]:
        """One Query a day (a day's items share a partition)."""
        found = []
        for day in days:
            query: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": to_item({":pk": report_pk(advertiser_id, day)}),
            }
            while True:
                answer = client("dynamodb").query(**query)
                found += [_report_item(day, from_item(item, exact=True)) for item in answer.get("Items", [])]
                if "LastEvaluatedKey" not in answer:
                    break
                query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found

    def rolled_up(self, advertiser_id: str, days: Sequence[str]) -> list[ReportItem]:
        return [item for item in self.items(advertiser_id, days) if item.metrics is not None]

    def put_metrics(self, advertiser_id: str, metrics: AdDayMetrics, currency: str | None) -> None:
        """SET what TikTok said, REMOVE what it did not: the item ends the same whatever it held before."""
        values: dict[str, Any] = {name: currency if name == "currency" else getattr(metrics, name) for name in METRIC_ATTRIBUTES}
        to_set = [name for name, value in values.items() if value is not None]
        to_remove = [name for name, value in values.items() if value is None]
        expression = "SET " + ", ".join(f"#{n} = :{n}" for n in to_set)
        if to_remove:
            expression += " REMOVE " + ", ".join(f"#{n}" for n in to_remove)
        write = {
            "TableName": self._table,
            "Key": to_item({"pk": report_pk(advertiser_id, metrics.day), "sk": f"AD#{metrics.ad_id}"}),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {f"#{n}": n for n in values},
            "ExpressionAttributeValues": to_item({f":{n}": values[n] for n in to_set}),
        }
        beside_transactions(lambda: client("dynamodb").update_item(**write))

    def clear_metrics(self, advertiser_id: str, day: str, bucket: str) -> None:
        """An item that never counted a lead goes; one that did keeps its leads and loses TikTok's numbers."""
        key = to_item({"pk": report_pk(advertiser_id, day), "sk": bucket})
        dynamodb = client("dynamodb")
        try:
            beside_transactions(
                lambda: dynamodb.delete_item(TableName=self._table, Key=key, ConditionExpression="attribute_not_exists(leads)")
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            remove = {
                "UpdateExpression": "REMOVE " + ", ".join(f"#{n}" for n in METRIC_ATTRIBUTES),
                "ExpressionAttributeNames": {f"#{n}": n for n in METRIC_ATTRIBUTES},
            }
            beside_transactions(lambda: dynamodb.update_item(TableName=self._table, Key=key, **remove))


def beside_transactions(write: Callable[[], Any], sleep: Callable[[float], None] = time.sleep) -> Any:
    """A single-item write, tried again while a transaction (a lead being counted) holds the item."""
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            return write()
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionConflictException" or attempt == CONFLICT_RETRIES:
                raise
            sleep(0.05 * 2**attempt)
    return None


def _report_item(day: str, values: dict[str, Any]) -> ReportItem:
    bucket = str(values["sk"])
    metrics = None
    if "spend" in values:
        metrics = AdDayMetrics(
            ad_id=bucket.removeprefix("AD#"),
            day=day,
            spend=Decimal(values["spend"]),
            impressions=int(values.get("impressions", 0)),
            clicks=int(values.get("clicks", 0)),
            conversions=int(values.get("conversions", 0)),
            tiktok_conversations=int(values.get("tiktok_conversations", 0)),
            ad_name=values.get("ad_name"),
            campaign_id=values.get("campaign_id"),
            campaign_name=values.get("campaign_name"),
            adgroup_id=values.get("adgroup_id"),
            adgroup_name=values.get("adgroup_name"),
        )
    return ReportItem(day, bucket, int(values.get("leads", 0)), metrics, values.get("currency"))
