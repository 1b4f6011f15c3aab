"""ReportRollupFunction and the reports API against moto and the TikTok emulator."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from local.runtime import LambdaContext
from local.stack import scheduled_event
from local.tiktok_emulator import API_PREFIX, report_numbers
from messaging_partner.adapters.aws.account_links import DynamoAccountStore
from messaging_partner.adapters.aws.reports import DynamoReports, beside_transactions
from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.adapters.tiktok_api.reports import TikTokReportsApi
from messaging_partner.domain.models import LeadCount
from messaging_partner.domain.reports import AdDayMetrics, Granularity, RollupRequest
from tests.integration.conftest import TEMPLATE, IntegrationStack, RunningEmulator
from tests.integration.test_connections import connect

ADVERTISER = "7100000000000000001"
TOKEN = "local-advertiser-token"  # the emulator's fixture token


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def fan_out(stack: IntegrationStack, granularity: str = "hourly") -> list[RollupRequest]:
    result = stack.runtime.invoke("ReportRollupFunction", scheduled_event(json.dumps({"granularity": granularity}), "rollup"))
    requests = [RollupRequest.model_validate(body) for body in stack.bodies("RollupQueue")]
    assert result["queued"] == len(requests)
    return requests


def test_the_schedule_queues_one_request_per_connected_ad_account_in_its_time_zone(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    hourly = {r.advertiser_id: r for r in fan_out(aws_stack)}
    assert set(hourly) == {ADVERTISER, "7100000000000000002"}
    assert hourly[ADVERTISER].currency == "EUR"  # kept at connect time from /advertiser/info/
    assert len(hourly[ADVERTISER].days) == 2
    daily = fan_out(aws_stack, "daily")
    assert all(len(r.days) == 7 and r.granularity is Granularity.DAILY for r in daily)


def test_an_ad_account_needing_reauthorization_is_not_queued(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    store = DynamoAccountStore(aws_stack.provisioned.attribute("AccountLinksTable", "Ref"))
    account, _ = store.get_advertiser(ADVERTISER)  # type: ignore[misc]
    store.mark_needs_reauth("advertiser", ADVERTISER, account.connected_at_ms, "revoked in a test")
    result = aws_stack.runtime.invoke("ReportRollupFunction", {"granularity": "hourly"})
    assert result["needs_reauth"] == [ADVERTISER]
    assert [body["advertiser_id"] for body in aws_stack.bodies("RollupQueue")] == ["7100000000000000002"]


def test_a_batch_rolls_each_ad_account_up_with_few_aws_requests(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    aws_stack.runtime.invoke("ReportRollupFunction", {"granularity": "hourly"})
    messages = aws_stack.drain("RollupQueue")
    before = Counter(aws_stack.requests_by_operation())
    response = aws_stack.runtime.invoke("ReportRollupFunction", aws_stack.sqs_event(messages, "RollupQueue"))
    assert response == {"batchItemFailures": []}
    used = Counter(aws_stack.requests_by_operation()) - before
    # Per ad account: its item (Query), its token (Decrypt), the cards (BatchGetItem), a Query a day, a write per ad and day.
    assert used[("dynamodb", "UpdateItem")] == 4 * 2  # the demo account's four ads (one deleted) on two days
    assert used[("dynamodb", "Query")] == 2 * (1 + 2)
    assert used[("kms", "Decrypt")] == 2
    report = aws_stack.http("AdminFunction", "GET", f"/admin/reports?advertiser_id={ADVERTISER}&group_by=ad")
    body = json.loads(report["body"])
    assert body["currency"] == "EUR"
    spend = {row["ad_id"]: row["spend"] for row in body["rows"] if row["ad_id"]}
    (request,) = [RollupRequest.model_validate_json(m["Body"]) for m in messages if ADVERTISER in m["Body"]]
    expected = sum(Decimal(report_numbers(ADVERTISER, "1790000000000001", day)["spend"]) for day in request.days)
    assert Decimal(spend["1790000000000001"]) == expected  # the last seven days hold the two rolled up


def test_every_page_is_read(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    client = TikTokClient(f"{emulator.base_url}{API_PREFIX}/")
    whole = TikTokReportsApi(client).ad_days(ADVERTISER, TOKEN, "2026-11-20", "2026-11-26")
    paged = TikTokReportsApi(client, page_size=2).ad_days(ADVERTISER, TOKEN, "2026-11-20", "2026-11-26")
    assert paged.rows == whole.rows
    assert whole.calls == 1
    assert paged.calls == (len(whole.rows) + 1) // 2
    assert {row.ad_id for row in whole.rows} >= {"1790000000000009"}  # the deleted ad too: its spend still counts


def test_the_view_is_one_html_page_and_refusals_are_json(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    page = aws_stack.http("AdminFunction", "GET", f"/admin/reports/view?advertiser_id={ADVERTISER}")
    assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"].startswith("text/html")
    assert "<svg" in page["body"]
    assert "Demo Sneakers" in page["body"]  # the ad account's name in the title
    refused = aws_stack.http("AdminFunction", "GET", f"/admin/reports/view?advertiser_id={ADVERTISER}&from=2026-13-01")
    assert refused["statusCode"] == 400
    assert "YYYY-MM-DD" in json.loads(refused["body"])["message"]


def test_the_template_gives_the_rollup_queue_a_dlq_and_the_function_its_concurrency() -> None:
    queue = TEMPLATE.resources["RollupQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["RollupDLQ", "Arn"]}
    assert queue["VisibilityTimeout"] >= 6 * TEMPLATE.resources["ReportRollupFunction"]["Properties"]["Timeout"]


def test_an_unreadable_request_fails_alone_and_none_starts_too_close_to_the_timeout(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    aws_stack.runtime.invoke("ReportRollupFunction", {"granularity": "hourly"})
    event = aws_stack.sqs_event(aws_stack.drain("RollupQueue"), "RollupQueue")
    event["Records"].append({**event["Records"][0], "messageId": "unreadable", "body": '{"advertiser_id": 7}'})
    response = aws_stack.runtime.invoke("ReportRollupFunction", event)
    assert response == {"batchItemFailures": [{"itemIdentifier": "unreadable"}]}

    handler = aws_stack.runtime.handler("ReportRollupFunction")
    late = handler(event, LambdaContext("ReportRollupFunction", timeout_seconds=20))  # less than the 30 s it keeps
    assert len(late["batchItemFailures"]) == len(event["Records"])


def test_numbers_tiktok_takes_back_leave_the_leads_and_an_item_without_leads_goes(aws_stack: IntegrationStack) -> None:
    reports = DynamoReports(aws_stack.provisioned.attribute("ReportsTable", "Ref"))
    day, numbers = "2026-11-30", AdDayMetrics("1", "2026-11-30", Decimal("12.30"), 10, 1, 0, 0, ad_name="A")
    reports.put_metrics(ADVERTISER, numbers, "EUR")
    reports.put_metrics(ADVERTISER, replace(numbers, ad_id="2", ad_name=None), "EUR")
    lead = reports.lead_increment(LeadCount(ADVERTISER, day, "AD#1"))
    aws_stack.session.client("dynamodb").transact_write_items(TransactItems=[lead])
    assert [(i.bucket, i.leads, i.metrics.spend) for i in reports.rolled_up(ADVERTISER, [day])] == [  # type: ignore[union-attr]
        ("AD#1", 1, Decimal("12.3")),
        ("AD#2", 0, Decimal("12.3")),
    ]
    reports.clear_metrics(ADVERTISER, day, "AD#1")
    reports.clear_metrics(ADVERTISER, day, "AD#2")
    assert [(i.bucket, i.leads, i.metrics) for i in reports.items(ADVERTISER, [day])] == [("AD#1", 1, None)]


def test_a_write_waits_out_a_lead_being_counted_in_a_transaction() -> None:
    conflict = ClientError({"Error": {"Code": "TransactionConflictException", "Message": "busy"}}, "UpdateItem")
    attempts, sleeps = [], []

    def write() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise conflict
        return "written"

    assert beside_transactions(write, sleep=sleeps.append) == "written"
    assert sleeps == [0.05, 0.1]
    with pytest.raises(ClientError):
        beside_transactions(lambda: (_ for _ in ()).throw(conflict), sleep=sleeps.append)
