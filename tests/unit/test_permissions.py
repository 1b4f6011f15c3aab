"""The IAM check the local stack adds: template policies expanded, calls as IAM sees them, denied and unused."""

from __future__ import annotations

from local.permissions import Grant, denied, grants, logical_id, requested, unused
from local.runtime import iam_requests
from local.template import Template

TEMPLATE = Template()
ATTRIBUTES = {
    "AccountLinksTable": {"Ref": "links-table", "Arn": "arn:aws:dynamodb:us-east-1:1:table/links-table"},
    "ReportsTable": {"Ref": "reports-table"},
    "RollupQueue": {"Ref": "http://localhost/1/rollup-queue", "QueueName": "rollup-queue"},
    "TokenKey": {"Ref": "key-1", "KeyId": "key-1"},
}


def test_calls_are_read_as_iam_reads_them() -> None:
    transaction = {"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "u"}}]}
    assert iam_requests("dynamodb", "TransactWriteItems", transaction) == [
        ("dynamodb:PutItem", "table:t"),
        ("dynamodb:ConditionCheckItem", "table:u"),
    ]
    assert iam_requests("dynamodb", "Query", {"TableName": "t", "IndexName": "by"}) == [("dynamodb:Query", "index:t/by")]
    assert iam_requests("sqs", "SendMessageBatch", {"QueueUrl": "http://h/1/q"}) == [("sqs:SendMessage", "queue:q")]
    assert iam_requests("events", "PutEvents", {"Entries": [{"EventBusName": "bus"}]}) == [("events:PutEvents", "bus:bus")]


def test_policies_expand_to_the_actions_they_grant() -> None:
    allowed = grants(TEMPLATE)
    assert Grant("ReportRollupFunction", "dynamodb:UpdateItem", "ReportsTable") in allowed
    assert Grant("ReportRollupFunction", "sqs:SendMessage", "RollupQueue") in allowed
    assert Grant("WebhookFunction", "dynamodb:GetItem", "AccountLinksTable") not in allowed
    assert logical_id({"Fn::Sub": "${AccountLinksTable.Arn}/index/*"}) == "AccountLinksTable"


def test_a_call_no_policy_allows_is_named_and_an_index_counts_as_its_table() -> None:
    calls = [
        {"function": "ReportRollupFunction", "action": "dynamodb:Query", "resource": "index:links-table/advertisers"},
        {"function": "ReportRollupFunction", "action": "dynamodb:PutItem", "resource": "table:reports-table"},
        {"function": "WebhookFunction", "action": "kms:Decrypt", "resource": "key:key-1"},
    ]
    assert denied(calls, ATTRIBUTES, TEMPLATE) == [
        "ReportRollupFunction calls dynamodb:PutItem on ReportsTable, which its policies do not allow",
        "WebhookFunction calls kms:Decrypt on TokenKey, which its policies do not allow",
    ]
    assert Grant("ReportRollupFunction", "dynamodb:Query", "AccountLinksTable") in requested(calls, ATTRIBUTES)
    assert Grant("ReportRollupFunction", "dynamodb:Query", "AccountLinksTable") not in unused(calls, ATTRIBUTES, TEMPLATE)
    assert Grant("ReportRollupFunction", "dynamodb:UpdateItem", "ReportsTable") in unused(calls, ATTRIBUTES, TEMPLATE)
