"""Conversations table.

CONV#<conversation key>                   META      the conversation; `signal:<name>` attributes hold its signals
CONV#<conversation key>                   MSG#<id>  a message's dedupe marker (TTL)
CONV#<conversation key>                   EVT#<id>  a conversation event: reaction, edit, deletion, notice
ALIAS#<channel>#<account>#<identifier>    ALIAS     another identifier of a customer (customer_id: the key's)

One transaction per message writes the marker (the dedupe) and updates the conversation,
so the two never disagree (a message older than the conversation's last one takes a second,
since last_message_at_ms only moves forward); the transaction that opens a conversation also counts its lead
(reports.py builds that item) and records the customer's other identifiers. Which write to
try first is attribution's choice.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from messaging_partner.domain.errors import InvalidCursor, OutcomeLimitReached
from messaging_partner.domain.models import (
    Channel,
    Conversation,
    ConversationEvent,
    ConversationSignals,
    ConversationView,
    InboundMessage,
    LeadCount,
    MessageKind,
    SignalRecord,
    conversation_key,
)
from messaging_partner.domain.ports import RecordedMessage, RecordOutcome

from .clients import client
from .codec import from_item, to_item
from .reports import DynamoReports

META = "META"
_CONDITION_FAILED = "ConditionalCheckFailed"


def conversation_pk(conversation_key: str) -> str:
    return f"CONV#{conversation_key}"


def marker_sk(platform_message_id: str) -> str:
    return f"MSG#{platform_message_id}"


def event_sk(platform_message_id: str) -> str:
    return f"EVT#{platform_message_id}"


SIGNAL_PREFIX = "signal:"


def signal_attribute(signal: str) -> str:
    return SIGNAL_PREFIX + signal


def alias_pk(channel: Channel | str, business_account_id: str, identifier: str) -> str:
    return f"ALIAS#{channel}#{business_account_id}#{identifier}"


class DynamoConversationStore:
    def __init__(
        self,
        table_name: str,
        marker_ttl_days: int = 30,
        clock: Callable[[], float] = time.time,
        reports: DynamoReports | None = None,
    ) -> None:
        self._table = table_name
        self._reports = reports
        self._marker_ttl_seconds = marker_ttl_days * 86400
        self._clock = clock

    def append(self, message: InboundMessage) -> RecordedMessage | None:
        """Marks the message and adds it to its conversation; None when the conversation does not exist yet.

        last_message_at_ms only moves forward. Platforms do not promise order, so a message can arrive
        after a later one: the first write sets the time only while the stored one is not later, and when
        that condition alone fails (the conversation answers with its item) a second write adds the message
        without the time. In-order delivery, the common case, stays one write.
        """
        reasons = self._transact([self._marker_put(message, created_conversation=False), self._added(message, latest=True)])
        if reasons is not None and reasons[0].get("Code") != _CONDITION_FAILED and "Item" in reasons[1]:
            reasons = self._transact([self._marker_put(message, created_conversation=False), self._added(message, latest=False)])
        if reasons is None:
            return RecordedMessage(RecordOutcome.EXISTING_CONVERSATION, None, created_conversation=False)
        if reasons[0].get("Code") == _CONDITION_FAILED:
            return self._duplicate(message, reasons[0])
        return None

    def _added(self, message: InboundMessage, latest: bool) -> dict[str, Any]:
        """The conversation's update for one more message; `latest`: the message is its newest (sets the time)."""
        values: dict[str, Any] = {":count": 1 if message.kind is MessageKind.MESSAGE else 0}
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"pk": conversation_pk(message.conversation_key), "sk": META}),
            "ConditionExpression": "attribute_exists(pk)",
            "UpdateExpression": "ADD customer_message_count :count",
        }
        if latest:
            values[":at"] = message.sent_at_ms
            update["ConditionExpression"] += " AND (attribute_not_exists(last_message_at_ms) OR last_message_at_ms <= :at)"
            update["UpdateExpression"] += " SET last_message_at_ms = :at"
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"  # an item in the answer: it exists, with a later time
        update["ExpressionAttributeValues"] = to_item(values)
        return {"Update": update}

    def open(
        self, message: InboundMessage, conversation: Conversation, lead: LeadCount | None, one_key_per_customer: bool = False
    ) -> RecordedMessage | None:
        """Marks the message, creates the conversation and counts its lead in one transaction.

        With one_key_per_customer the same transaction also records the payload's other identifiers
        as aliases, and holds only while none of them keys a conversation of its own and this
        identifier is nobody's alias: two deliveries naming one customer differently cannot both
        open. None when another delivery opened the conversation first (or won such a race).
        """
        item = {
            "pk": conversation_pk(conversation.conversation_key),
            "sk": META,
            **conversation.model_dump(mode="json", exclude_none=True),
        }
        put = {"Put": {"TableName": self._table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}}
        writes = [self._marker_put(message, created_conversation=True), put]
        if self._reports is not None and lead is not None:
            writes.append(self._reports.lead_increment(lead))
        if one_key_per_customer:
            channel, account, customer = message.channel, message.business_account_id, conversation.customer_id
            aliases = [alias for alias in message.customer_aliases if alias != customer]
            writes += [self._alias_put(channel, account, alias, customer) for alias in aliases]
            writes += [self._no_conversation_under(channel, account, alias) for alias in aliases]
            writes.append(self._not_an_alias_of_another(channel, account, customer))
        reasons = self._transact(writes)
        if reasons is None:
            return RecordedMessage(RecordOutcome.NEW_CONVERSATION, conversation, created_conversation=True)
        if reasons[0].get("Code") == _CONDITION_FAILED:
            return self._duplicate(message, reasons[0])
        return None

    def record_event(self, message: InboundMessage) -> bool:
        """Kept once per platform event: a marker keyed by channel, account and event id rides in the same write,
        so a redelivery finds it even when the event's customer has meanwhile become known under another key."""
        event = ConversationEvent.model_validate(message.model_dump(include=set(ConversationEvent.model_fields)))
        item = {
            "pk": conversation_pk(message.conversation_key),
            "sk": event_sk(message.platform_message_id),
            **event.model_dump(mode="json", exclude_none=True),
        }
        marker = {
            "pk": f"EVENT#{message.channel}#{message.business_account_id}#{message.platform_message_id}",
            "sk": "EVENT",
            "conversation_key": message.conversation_key,
            "expires_at": int(self._clock()) + self._marker_ttl_seconds,
        }
        writes = [
            {"Put": {"TableName": self._table, "Item": to_item(marker), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self._table, "Item": to_item(item)}},
        ]
        return self._transact(writes) is None

    def events(self, conversation_key: str) -> list[ConversationEvent]:
        """A conversation's events, oldest first (by platform time)."""
        paginator = client("dynamodb").get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :events)",
            ExpressionAttributeValues=to_item({":pk": conversation_pk(conversation_key), ":events": event_sk("")}),
        )
        events = [ConversationEvent.model_validate(_without_keys(from_item(i))) for page in pages for i in page["Items"]]
        return sorted(events, key=lambda event: event.sent_at_ms)

    def known_customer(self, channel: Channel, business_account_id: str, identifiers: Sequence[str]) -> str | None:
        """One read: the conversation the first identifier keys, else an alias of any, else another's conversation.

        The order is the one attribution writes in (its own key first), so messages and events agree.
        """
        aliases = [{"pk": alias_pk(channel, business_account_id, i), "sk": "ALIAS"} for i in identifiers]
        conversations = [
            {"pk": conversation_pk(conversation_key(channel, business_account_id, i)), "sk": META} for i in identifiers
        ]
        request = {self._table: {"Keys": [to_item(k) for k in aliases + conversations], "ConsistentRead": True}}
        found: dict[str, dict[str, Any]] = {}
        while request:  # UnprocessedKeys under throttling
            answer = client("dynamodb").batch_get_item(RequestItems=request)
            found.update({item["pk"]: item for item in map(from_item, answer["Responses"].get(self._table, []))})
            request = answer.get("UnprocessedKeys") or {}
        keyed = [i for i, k in zip(identifiers, conversations, strict=True) if k["pk"] in found]
        by_alias = [str(found[k["pk"]]["customer_id"]) for k in aliases if k["pk"] in found]
        own = keyed[:1] if keyed[:1] == list(identifiers[:1]) else []
        return next(iter(own + by_alias + keyed), None)

    def add_alias(self, channel: Channel, business_account_id: str, alias: str, customer_id: str) -> bool:
        """False when the alias keys a conversation of its own or is another customer's alias: no merge here."""
        writes = [
            self._alias_put(channel, business_account_id, alias, customer_id),
            self._no_conversation_under(channel, business_account_id, alias),
        ]
        return self._transact(writes) is None

    def _alias_put(self, channel: Channel, business_account_id: str, alias: str, customer_id: str) -> dict[str, Any]:
        item = {"pk": alias_pk(channel, business_account_id, alias), "sk": "ALIAS", "customer_id": customer_id}
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :customer",
                "ExpressionAttributeValues": to_item({":customer": customer_id}),
            }
        }

    def _no_conversation_under(self, channel: Channel, business_account_id: str, identifier: str) -> dict[str, Any]:
        key = {"pk": conversation_pk(conversation_key(channel, business_account_id, identifier)), "sk": META}
        return {
            "ConditionCheck": {"TableName": self._table, "Key": to_item(key), "ConditionExpression": "attribute_not_exists(pk)"}
        }

    def _not_an_alias_of_another(self, channel: Channel, business_account_id: str, customer_id: str) -> dict[str, Any]:
        key = {"pk": alias_pk(channel, business_account_id, customer_id), "sk": "ALIAS"}
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": to_item(key),
                "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :customer",
                "ExpressionAttributeValues": to_item({":customer": customer_id}),
            }
        }

    # ------------------------------------------------------------------ signals (the SignalLedger port)
    # A conversation's signals are attributes of its META item, so reading the conversation reads them.
    def signals_of(self, conversation_key: str) -> ConversationSignals | None:
        values = self._meta(conversation_key)
        return ConversationSignals(_conversation(values), _signal_records(values)) if values else None

    def record(self, conversation_key: str, record: SignalRecord, over: SignalRecord | None) -> bool:
        names = {"#signal": signal_attribute(record.signal)}
        values: dict[str, Any] = {":record": record.model_dump(mode="json", exclude_none=True)}
        if over is None:
            unchanged = "attribute_not_exists(#signal)"
        else:  # a record's status and time say which write it was
            unchanged = "#signal.#status = :seen_status AND #signal.#at = :seen_at"
            names |= {"#status": "status", "#at": "at"}
            values |= {":seen_status": over.status.value, ":seen_at": over.at}
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"pk": conversation_pk(conversation_key), "sk": META}),
                UpdateExpression="SET #signal = :record",
                ConditionExpression=f"attribute_exists(pk) AND {unchanged}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def queue(self, conversation_key: str, record: SignalRecord, limit: int) -> SignalRecord | None:
        dynamodb = client("dynamodb")
        name = signal_attribute(record.signal)
        try:
            dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"pk": conversation_pk(conversation_key), "sk": META}),
                # Outcomes live on the conversation's item, so they are counted and capped: it must stay under 400 KB.
                UpdateExpression="SET #signal = :record ADD outcome_count :one",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(#signal)"
                    " AND (attribute_not_exists(outcome_count) OR outcome_count < :limit)"
                ),
                ExpressionAttributeNames={"#signal": name},
                ExpressionAttributeValues=to_item(
                    {":record": record.model_dump(mode="json", exclude_none=True), ":one": 1, ":limit": limit}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException as refused:
            old = from_item(refused.response.get("Item") or {})
            if name in old:
                return SignalRecord.model_validate(old[name])
            if old:
                raise OutcomeLimitReached(f"{conversation_key} holds {old.get('outcome_count')} outcomes") from None
            raise ValueError(f"No conversation {conversation_key!r}") from None
        return None

    def conversation_view(self, conversation_key: str) -> ConversationView | None:
        """The conversation, its signals and its events (two reads); None when there is nothing under the key."""
        values = self._meta(conversation_key)
        events = self.events(conversation_key)
        if not values and not events:
            return None
        signals = sorted(_signal_records(values).values(), key=lambda record: record.at)
        return ConversationView(_conversation(values) if values else None, events, signals)

    def count_stripped(self, message: InboundMessage) -> bool:
        """Count a stripped (EEA) event for its business account and UTC day, once; False for a redelivery.

        It lives under the conversation key with no customer, next to the marker that makes it idempotent.
        """
        day = time.strftime("%Y-%m-%d", time.gmtime(message.sent_at_ms / 1000))
        counter = {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": conversation_pk(message.conversation_key), "sk": f"STRIPPED#{day}"}),
                "UpdateExpression": "ADD stripped_count :one",
                "ExpressionAttributeValues": to_item({":one": 1}),
            }
        }
        return self._transact([self._marker_put(message, created_conversation=False), counter]) is None

    def stripped_count(self, channel_business_key: str, day: str) -> int:
        key = to_item({"pk": conversation_pk(channel_business_key), "sk": f"STRIPPED#{day}"})
        item = client("dynamodb").get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return int(from_item(item).get("stripped_count", 0)) if item else 0

    def list_for_advertiser(
        self, advertiser_id: str, from_ms: int, to_ms: int, source: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Conversation], str | None]:
        """An advertiser's conversations started in [from_ms, to_ms], newest first, from the by_advertiser index.

        The cursor is the index position DynamoDB gave for the previous page, as URL-safe base64 of
        JSON; one that is not such a position for this query raises InvalidCursor (DynamoDB
        would refuse it with a ValidationException).
        """
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_advertiser",
            "KeyConditionExpression": "advertiser_id = :advertiser AND started_at_ms BETWEEN :from AND :to",
            "ExpressionAttributeValues": to_item({":advertiser": advertiser_id, ":from": from_ms, ":to": to_ms}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if source:
            request["FilterExpression"] = "#source = :source"
            request["ExpressionAttributeNames"] = {"#source": "source"}
            request["ExpressionAttributeValues"].update(to_item({":source": source}))
        if cursor:
            request["ExclusiveStartKey"] = to_item(_start_key(cursor, advertiser_id, from_ms, to_ms))
        answer = client("dynamodb").query(**request)
        conversations = [_conversation(from_item(item)) for item in answer["Items"]]
        last = answer.get("LastEvaluatedKey")
        next_cursor = base64.urlsafe_b64encode(json.dumps(from_item(last)).encode()).decode() if last else None
        return conversations, next_cursor

    def get(self, conversation_key: str) -> Conversation | None:
        values = self._meta(conversation_key)
        return _conversation(values) if values else None

    def _meta(self, conversation_key: str) -> dict[str, Any]:
        """The conversation's META item (the conversation and its signal records), read consistently; {} if none."""
        key = to_item({"pk": conversation_pk(conversation_key), "sk": META})
        item = client("dynamodb").get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return from_item(item) if item else {}

    def _marker_put(self, message: InboundMessage, created_conversation: bool) -> dict[str, Any]:
        marker = {
            "pk": conversation_pk(message.conversation_key),
            "sk": marker_sk(message.platform_message_id),
            "kind": message.kind.value,
            "sent_at_ms": message.sent_at_ms,
            "created_conversation": created_conversation,
            "expires_at": int(self._clock()) + self._marker_ttl_seconds,
        }
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(marker),
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _duplicate(self, message: InboundMessage, reason: dict[str, Any]) -> RecordedMessage:
        marker = from_item(reason["Item"]) if "Item" in reason else self._marker(message)
        if not marker.get("created_conversation"):
            return RecordedMessage(RecordOutcome.DUPLICATE, None, created_conversation=False)
        # The redelivered message is the one that opened the conversation: its event may not have gone out.
        return RecordedMessage(RecordOutcome.DUPLICATE, self.get(message.conversation_key), created_conversation=True)

    def _marker(self, message: InboundMessage) -> dict[str, Any]:
        key = to_item({"pk": conversation_pk(message.conversation_key), "sk": marker_sk(message.platform_message_id)})
        item = client("dynamodb").get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return from_item(item) if item else {}

    def _transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """None on success, else DynamoDB's cancellation reasons (one per item)."""
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(TransactItems=items)
        except dynamodb.exceptions.TransactionCanceledException as error:
            reasons: list[dict[str, Any]] = error.response.get("CancellationReasons", [])
            if not any(r.get("Code") == _CONDITION_FAILED for r in reasons):
                raise  # a conflict or throttle: let the batch retry it
            return reasons
        return None


def _without_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "expires_at")}


def _signal_records(values: dict[str, Any]) -> dict[str, SignalRecord]:
    return {
        name.removeprefix(SIGNAL_PREFIX): SignalRecord.model_validate(record)
        for name, record in values.items()
        if name.startswith(SIGNAL_PREFIX)
    }


def _conversation(item: dict[str, Any]) -> Conversation:
    return Conversation.model_validate({k: v for k, v in _without_keys(item).items() if not k.startswith(SIGNAL_PREFIX)})


_CURSOR_KEYS = {"pk": str, "sk": str, "advertiser_id": str, "started_at_ms": int}


def _start_key(cursor: str, advertiser_id: str, from_ms: int, to_ms: int) -> dict[str, Any]:
    """The by_advertiser position a cursor names, checked against the query it continues."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii", errors="strict")))
    except (ValueError, UnicodeError, RecursionError):  # not ASCII, not base64, not JSON
        raise InvalidCursor("is not one this listing gave") from None
    if not isinstance(position, dict) or set(position) != set(_CURSOR_KEYS):
        raise InvalidCursor("is not one this listing gave")
    if any(type(position[key]) is not kind for key, kind in _CURSOR_KEYS.items()):  # bool is an int; not here
        raise InvalidCursor("is not one this listing gave")
    if position["advertiser_id"] != advertiser_id or not from_ms <= position["started_at_ms"] <= to_ms:
        raise InvalidCursor("belongs to another query (another ad account or time range)")
    if not position["pk"].startswith("CONV#") or position["sk"] != META:
        raise InvalidCursor("is not one this listing gave")
    return position
