"""AccountLinks table (DESIGN.md section 3).

ADV#<advertiser_id>  META                           the ad account: encrypted token, status, event sets
ADV#<advertiser_id>  CHANNEL#<channel>#<account_id>  a linked chat account (GSI by_channel_account routes on it)
ADV#<advertiser_id>  SIGNALS#KEYWORDS               the keyword list, versioned (sorts after META: reading an ad
                                                    account and its links never reads its keywords)
LINK#<channel>#<account_id>  LINK                   guard: one advertiser per chat account
BIZ#<business_id>    TOKEN                          tt_user tokens; refresh_bucket/refresh_due_at feed the sparse refresh_due GSI
STATE#<state>        STATE                          OAuth state, single use, TTL
STARTS#<workspace>   WINDOW#<n>                     connections a workspace started in one state lifetime (cap), TTL
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from messaging_partner.domain.errors import AlreadyLinked, ConnectedElsewhere, TooManyConnectionStarts, UnknownAdvertiser
from messaging_partner.domain.expiring import ExpiringCache
from messaging_partner.domain.models import (
    AccountLink,
    AccountLinkStatus,
    AdvertiserAccount,
    BusinessAccount,
    Channel,
    ConnectionKind,
    KeywordList,
    KeywordRule,
    OAuthState,
    Route,
)

from .clients import client
from .codec import from_item, to_item

REFRESH_BUCKET = "TOKEN"  # the one partition of the sparse refresh_due index
ADVERTISER_ENTITY = "ADVERTISER"
KEYWORDS = "SIGNALS#KEYWORDS"
_CONDITION_FAILED = "ConditionalCheckFailed"


def advertiser_pk(advertiser_id: str) -> str:
    return f"ADV#{advertiser_id}"


def channel_account(channel: Channel | str, account_id: str) -> str:
    return f"CHANNEL#{channel}#{account_id}"


class DynamoAccountStore:
    def __init__(self, table_name: str, clock: Callable[[], float] = time.time) -> None:
        self._table = table_name
        self._clock = clock

    # ------------------------------------------------------------------ OAuth state
    def put_state(self, state: OAuthState, pending_cap: int, window_seconds: int) -> None:
        """The state and its workspace's start count in one transaction: past the cap, neither is written."""
        window = int(self._clock() // window_seconds)
        item = {"pk": f"STATE#{state.state}", "sk": "STATE", **state.model_dump(mode="json")}
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": to_item({"pk": f"STARTS#{state.workspace}", "sk": f"WINDOW#{window}"}),
                            "UpdateExpression": "ADD started :one SET expires_at = :expires",
                            "ConditionExpression": "attribute_not_exists(started) OR started < :cap",
                            "ExpressionAttributeValues": to_item(
                                {":one": 1, ":cap": pending_cap, ":expires": (window + 2) * window_seconds}
                            ),
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}},
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == _CONDITION_FAILED:
                raise TooManyConnectionStarts(state.workspace) from None
            raise

    def take_state(self, state: str) -> OAuthState | None:
        dynamodb = client("dynamodb")
        try:
            old = dynamodb.delete_item(
                TableName=self._table,
                Key=to_item({"pk": f"STATE#{state}", "sk": "STATE"}),
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            ).get("Attributes")
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        return OAuthState.model_validate(_fields(from_item(old))) if old else None

    # ------------------------------------------------------------------ advertisers
    def save_advertiser(self, account: AdvertiserAccount) -> None:
        item = {"pk": advertiser_pk(account.advertiser_id), "sk": "META", "entity_type": ADVERTISER_ENTITY, **_dump(account)}
        self._put_in_workspace(item, account.advertiser_id, account.workspace)

    def move_to_workspace(self, kind: ConnectionKind, account_id: str, workspace: str) -> bool:
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self._table,
                Key=to_item(_account_key(kind, account_id)),
                UpdateExpression="SET workspace = :workspace",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":workspace": workspace}),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _put_in_workspace(self, item: dict[str, Any], account_id: str, workspace: str) -> None:
        """A connection writes its account whole, but never takes it from another workspace."""
        dynamodb = client("dynamodb")
        try:
            dynamodb.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR workspace = :workspace",
                ExpressionAttributeValues=to_item({":workspace": workspace}),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            raise ConnectedElsewhere(account_id, workspace) from None

    def get_advertiser(self, advertiser_id: str) -> tuple[AdvertiserAccount, list[AccountLink]] | None:
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk <= :meta",
            ExpressionAttributeValues=to_item({":pk": advertiser_pk(advertiser_id), ":meta": "META"}),
        )
        meta = next((i for i in items if i["sk"] == "META"), None)
        if meta is None:
            return None
        links = [AccountLink.model_validate(_fields(i)) for i in items if i["sk"].startswith("CHANNEL#")]
        return AdvertiserAccount.model_validate(_fields(meta)), links

    def list_advertisers(self) -> list[AdvertiserAccount]:
        items = self._query(
            IndexName="advertisers",
            KeyConditionExpression="entity_type = :entity",
            ExpressionAttributeValues=to_item({":entity": ADVERTISER_ENTITY}),
        )
        return [AdvertiserAccount.model_validate(_fields(i)) for i in items]

    # ------------------------------------------------------------------ keyword lists
    def keywords(self, advertiser_id: str) -> KeywordList | None:
        key = to_item({"pk": advertiser_pk(advertiser_id), "sk": KEYWORDS})
        item = client("dynamodb").get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return KeywordList.model_validate(_fields(from_item(item))) if item else None

    def replace_keywords(self, advertiser_id: str, rules: list[KeywordRule], now_ms: int) -> KeywordList:
        """The new list, one version up; UnknownAdvertiser when the ad account is not connected.

        The version condition makes two concurrent replacements one after the other, never a lost update.
        """
        dynamodb = client("dynamodb")
        for _ in range(3):
            current = self.keywords(advertiser_id)
            version = current.version if current else 0
            replaced = KeywordList(advertiser_id=advertiser_id, version=version + 1, keywords=tuple(rules), updated_at_ms=now_ms)
            item = {"pk": advertiser_pk(advertiser_id), "sk": KEYWORDS, **_dump(replaced)}
            try:
                dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "ConditionCheck": {
                                "TableName": self._table,
                                "Key": to_item({"pk": advertiser_pk(advertiser_id), "sk": "META"}),
                                "ConditionExpression": "attribute_exists(pk)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": to_item(item),
                                "ConditionExpression": "attribute_not_exists(pk) OR version = :version",
                                "ExpressionAttributeValues": to_item({":version": version}),
                            }
                        },
                    ]
                )
            except dynamodb.exceptions.TransactionCanceledException as error:
                reasons = error.response.get("CancellationReasons", [])
                if reasons and reasons[0].get("Code") == _CONDITION_FAILED:
                    raise UnknownAdvertiser(advertiser_id) from None
                if len(reasons) > 1 and reasons[1].get("Code") in (_CONDITION_FAILED, "TransactionConflict"):
                    continue  # another replacement won, or is being written: build on it
                raise  # anything else (a value DynamoDB refuses) is not a race to retry
            return replaced
        raise RuntimeError(f"The keyword list of {advertiser_id} kept changing; try again.")

    # ------------------------------------------------------------------ links
    def link(self, link: AccountLink) -> None:
        """Links a chat account. AlreadyLinked: another advertiser has it; UnknownAdvertiser: not connected."""
        me = link.advertiser_id
        advertiser = self.get_advertiser(me)
        if advertiser is None:
            raise UnknownAdvertiser(me)
        link = link.model_copy(update={"timezone": advertiser[0].timezone})
        guard = {"pk": f"LINK#{link.channel}#{link.account_id}", "sk": "LINK", "advertiser_id": me}
        item = {
            "pk": advertiser_pk(me),
            "sk": channel_account(link.channel, link.account_id),
            "channel_account": channel_account(link.channel, link.account_id),
        }
        item.update(_dump(link))
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": to_item({"pk": advertiser_pk(me), "sk": "META"}),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(guard),
                            "ConditionExpression": "attribute_not_exists(pk) OR advertiser_id = :me",
                            "ExpressionAttributeValues": to_item({":me": me}),
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": to_item(item)}},
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == _CONDITION_FAILED:
                raise UnknownAdvertiser(me) from None
            if len(reasons) > 1 and reasons[1].get("Code") == _CONDITION_FAILED:
                owner = from_item(reasons[1]["Item"]).get("advertiser_id") if "Item" in reasons[1] else self._owner(link)
                raise AlreadyLinked(link.channel, link.account_id, str(owner)) from None
            raise

    def unlink(self, advertiser_id: str, channel: Channel, account_id: str) -> bool:
        """Removes the link and its guard; conversations and reports stay. False when there was no such link."""
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": to_item({"pk": advertiser_pk(advertiser_id), "sk": channel_account(channel, account_id)}),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": self._table, "Key": to_item({"pk": f"LINK#{channel}#{account_id}", "sk": "LINK"})}},
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException:
            return False
        return True

    def route(self, channel: Channel, account_id: str) -> Route | None:
        """Webhook routing: the advertiser a chat account is linked to, from the by_channel_account index."""
        items = self._query(
            IndexName="by_channel_account",
            KeyConditionExpression="channel_account = :key",
            ExpressionAttributeValues=to_item({":key": channel_account(channel, account_id)}),
        )
        if not items:
            return None
        link = items[0]
        return Route(
            advertiser_id=str(link["advertiser_id"]),
            timezone=str(link.get("timezone", "UTC")),
            display_name=link.get("display_name"),
        )

    # ------------------------------------------------------------------ business accounts
    def save_business(self, account: BusinessAccount) -> None:
        self._put_in_workspace(self._business_item(account), account.business_id, account.workspace)

    def get_business(self, business_id: str) -> BusinessAccount | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self._table, Key=to_item(_business_key(business_id)), ConsistentRead=True)
            .get("Item")
        )
        return BusinessAccount.model_validate(_fields(from_item(item))) if item else None

    def businesses_due_for_refresh(self, until_ms: int) -> list[str]:
        items = self._query(
            IndexName="refresh_due",
            KeyConditionExpression="refresh_bucket = :bucket AND refresh_due_at <= :until",
            ExpressionAttributeValues=to_item({":bucket": REFRESH_BUCKET, ":until": until_ms}),
        )
        return [str(i["pk"]).removeprefix("BIZ#") for i in items]

    def rotate_business_tokens(self, account: BusinessAccount, expected_version: int) -> bool:
        dynamodb = client("dynamodb")
        try:
            dynamodb.put_item(
                TableName=self._table,
                Item=to_item(self._business_item(account)),
                # An operator's move between the read and this write must not be undone.
                ConditionExpression="version = :expected AND workspace = :workspace",
                ExpressionAttributeValues=to_item({":expected": expected_version, ":workspace": account.workspace}),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def claim_business_refresh(self, business_id: str, version: int, now_ms: int, until_ms: int) -> bool:
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self._table,
                Key=to_item(_business_key(business_id)),
                UpdateExpression="SET refresh_claimed_until_ms = :until",
                ConditionExpression="version = :version AND #status = :active"
                " AND (attribute_not_exists(refresh_claimed_until_ms) OR refresh_claimed_until_ms <= :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {":version": version, ":active": AccountLinkStatus.ACTIVE.value, ":now": now_ms, ":until": until_ms}
                ),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release_business_refresh(
        self, business_id: str, version: int, issue: str, unconfirmed_since_ms: int | None = None
    ) -> bool:
        settings = ["refresh_issue = :issue"]
        values: dict[str, Any] = {":version": version, ":issue": issue}
        if unconfirmed_since_ms is not None:  # the first lost answer is the one that counts
            settings.append("refresh_unconfirmed_since_ms = if_not_exists(refresh_unconfirmed_since_ms, :since)")
            values[":since"] = unconfirmed_since_ms
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self._table,
                Key=to_item(_business_key(business_id)),
                UpdateExpression=f"SET {', '.join(settings)} REMOVE refresh_claimed_until_ms",
                ConditionExpression="attribute_exists(pk) AND version = :version",
                ExpressionAttributeValues=to_item(values),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_needs_reauth(
        self,
        kind: str,
        account_id: str,
        generation: int,
        reason: str,
        status: AccountLinkStatus = AccountLinkStatus.NEEDS_REAUTH,
    ) -> bool:
        business = kind == ConnectionKind.BUSINESS
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self._table,
                Key=to_item(_account_key(kind, account_id)),
                # Leaving the sparse refresh index: a dead token is not retried every hour.
                UpdateExpression="SET #status = :status, reauth_reason = :reason"
                " REMOVE refresh_bucket, refresh_due_at, refresh_claimed_until_ms",
                ConditionExpression="attribute_exists(pk) AND #generation = :generation",
                ExpressionAttributeNames={"#status": "status", "#generation": "version" if business else "connected_at_ms"},
                ExpressionAttributeValues=to_item({":status": status.value, ":reason": reason, ":generation": generation}),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def remember_currency(self, advertiser_id: str, currency: str) -> None:
        dynamodb = client("dynamodb")
        with suppress(dynamodb.exceptions.ConditionalCheckFailedException):  # disconnected meanwhile, or kept already
            dynamodb.update_item(
                TableName=self._table,
                Key=to_item({"pk": advertiser_pk(advertiser_id), "sk": "META"}),
                UpdateExpression="SET currency = :currency",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(currency)",
                ExpressionAttributeValues=to_item({":currency": currency}),
            )

    def _business_item(self, account: BusinessAccount) -> dict[str, Any]:
        item = {**_business_key(account.business_id), **_dump(account)}
        if account.status is AccountLinkStatus.ACTIVE:
            item.update(refresh_bucket=REFRESH_BUCKET, refresh_due_at=account.access_expires_at_ms)
        return item

    def _owner(self, link: AccountLink) -> str | None:
        item = (
            client("dynamodb")
            .get_item(
                TableName=self._table,
                Key=to_item({"pk": f"LINK#{link.channel}#{link.account_id}", "sk": "LINK"}),
                ConsistentRead=True,
            )
            .get("Item")
        )
        return str(from_item(item)["advertiser_id"]) if item else None

    def _query(self, **request: Any) -> list[dict[str, Any]]:
        paginator = client("dynamodb").get_paginator("query")
        return [from_item(item) for page in paginator.paginate(TableName=self._table, **request) for item in page["Items"]]


def _business_key(business_id: str) -> dict[str, str]:
    return {"pk": f"BIZ#{business_id}", "sk": "TOKEN"}


def _account_key(kind: str, account_id: str) -> dict[str, str]:
    return _business_key(account_id) if kind == ConnectionKind.BUSINESS else {"pk": advertiser_pk(account_id), "sk": "META"}


def _dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json", exclude_none=True))


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in item.items()
        if k not in ("pk", "sk", "entity_type", "channel_account", "refresh_bucket", "refresh_due_at")
    }


class CachedRouter:
    """Routes for a minute per Lambda container: routing is read when a conversation opens, links change rarely."""

    def __init__(self, store: DynamoAccountStore, ttl_seconds: float = 60, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._routes: ExpiringCache[Route | None] = ExpiringCache(ttl_seconds, clock)

    def route(self, channel: Channel, account_id: str) -> Route | None:
        key = (str(channel), account_id)
        remembered = self._routes.recall(key)
        if remembered is not None:
            return remembered.value
        return self._routes.remember(key, self._store.route(channel, account_id))


class CachedKeywordLists:
    """Keyword lists for a minute per Lambda container (the KeywordLists port): a message that matches nothing reads nothing."""

    def __init__(self, store: DynamoAccountStore, ttl_seconds: float = 60, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._lists: ExpiringCache[KeywordList | None] = ExpiringCache(ttl_seconds, clock)

    def current(self, advertiser_id: str) -> KeywordList | None:
        remembered = self._lists.recall(advertiser_id)
        if remembered is not None:
            return remembered.value
        return self._lists.remember(advertiser_id, self._store.keywords(advertiser_id))
