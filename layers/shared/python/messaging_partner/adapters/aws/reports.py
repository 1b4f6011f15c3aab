"""Reports table: pk RPT#<advertiser_id>#<day>, sk AD#<ad_id> / AD#UNRESOLVED / META_AD / SHORT_LINK / ORGANIC.

This repository owns the RPT# keys. Lead counters move with `ADD leads 1` inside the write
that opens the conversation (conversations.py asks for the item), so counts always equal
the conversations; which bucket and which day is the domain's rule (domain/leads.py).
"""

from __future__ import annotations

from typing import Any

from messaging_partner.domain.models import LeadCount

from .codec import to_item


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
