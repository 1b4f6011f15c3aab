"""The local stack's moto server keeps a write made while another request's transaction is cancelled.

moto backs up every table a TransactWriteItems touches and restores the backup when a condition
fails; AWS never undoes an unrelated write. The copy is slowed down here so that a put lands
between backup and restore every time, not once in a few hundred runs.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.exceptions
import moto.dynamodb.models
import pytest
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from local.moto_server import one_dynamodb_request_at_a_time

BACKUP_SECONDS = 0.3


@pytest.fixture
def slow_transaction_backup(monkeypatch: pytest.MonkeyPatch) -> None:
    real_deepcopy = copy.deepcopy

    def slow_deepcopy(value: Any) -> Any:
        copied = real_deepcopy(value)
        time.sleep(BACKUP_SECONDS)
        return copied

    # Slows moto's table backup (and its copy of an item before UpdateItem, which this test never sends).
    monkeypatch.setattr(moto.dynamodb.models, "copy", SimpleNamespace(deepcopy=slow_deepcopy))


def dynamodb_behind(wrap: Callable[[Any], Any]) -> Iterator[Any]:
    server = make_server("127.0.0.1", 0, wrap(DomainDispatcherApplication(create_backend_app)), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{server.server_port}",
            region_name="eu-west-3",  # a region no other test's moto backend uses
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
    finally:
        server.shutdown()


def write_during_cancelled_transaction(dynamodb: Any) -> bool:
    """True when a put made while a cancelled transaction holds its backup is still there afterwards."""
    table = f"race-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "taken"}})

    def cancelled_transaction() -> None:
        put_if_absent = {"TableName": table, "Item": {"pk": {"S": "taken"}}, "ConditionExpression": "attribute_not_exists(pk)"}
        with pytest.raises(botocore.exceptions.ClientError, match="TransactionCanceled"):
            dynamodb.transact_write_items(TransactItems=[{"Put": put_if_absent}])

    with ThreadPoolExecutor(1) as pool:
        transaction = pool.submit(cancelled_transaction)
        time.sleep(BACKUP_SECONDS / 3)  # the transaction is copying its backup
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "signal"}})
        transaction.result()
    return "Item" in dynamodb.get_item(TableName=table, Key={"pk": {"S": "signal"}}, ConsistentRead=True)


@pytest.mark.usefixtures("slow_transaction_backup")
def test_the_local_stack_keeps_a_write_made_during_a_cancelled_transaction() -> None:
    for dynamodb in dynamodb_behind(one_dynamodb_request_at_a_time):
        assert write_during_cancelled_transaction(dynamodb)


@pytest.mark.usefixtures("slow_transaction_backup")
def test_plain_moto_loses_it_which_is_why_the_stack_serialises_dynamodb() -> None:
    # When this starts failing, moto no longer restores whole tables and local/moto_server.py can go.
    for dynamodb in dynamodb_behind(lambda app: app):
        assert not write_during_cancelled_transaction(dynamodb)
