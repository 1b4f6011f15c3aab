"""template.yaml checks cfn-lint cannot make: references inside SAM events, DLQs, scoped policies.

The template is the one source of truth; these tests read it directly.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from local.permissions import Grant, grants, logical_id
from local.template import ROOT, Template
from messaging_partner.adapters.aws.queues import QUEUE_MESSAGE_LIMIT_BYTES

TEMPLATE = Template()
RESOURCES = TEMPLATE.resources
PARAMETERS = TEMPLATE.body.get("Parameters", {})
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue", "AWS::StackId"}

# Attributes each resource type really has (CloudFormation / SAM docs).
GETATT = {
    "AWS::SQS::Queue": {"Arn", "QueueName", "QueueUrl"},
    "AWS::DynamoDB::Table": {"Arn", "StreamArn"},
    "AWS::Events::EventBus": {"Arn", "Name"},
    "AWS::Events::Rule": {"Arn"},
    "AWS::KMS::Key": {"Arn", "KeyId"},
    "AWS::Serverless::Function": {"Arn"},
    "AWS::Logs::LogGroup": {"Arn"},
    "AWS::S3::Bucket": {"Arn", "DomainName", "RegionalDomainName"},
}

SCOPED_POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy": ("TableName", "AWS::DynamoDB::Table"),
    "DynamoDBReadPolicy": ("TableName", "AWS::DynamoDB::Table"),
    "SQSSendMessagePolicy": ("QueueName", "AWS::SQS::Queue"),
    "SQSPollerPolicy": ("QueueName", "AWS::SQS::Queue"),
    "EventBridgePutEventsPolicy": ("EventBusName", "AWS::Events::EventBus"),
    "AWSSecretsManagerGetSecretValuePolicy": ("SecretArn", "AWS::SecretsManager::Secret"),
    "KMSDecryptPolicy": ("KeyId", "AWS::KMS::Key"),
    "KMSEncryptPolicy": ("KeyId", "AWS::KMS::Key"),
}


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")


def references() -> Iterator[tuple[str, str, str | None]]:
    """(where, logical name, attribute or None) for every Ref, GetAtt and ${...} in the template."""
    for path, node in walk(TEMPLATE.body):
        if set(node) == {"Ref"}:
            yield path, node["Ref"], None
        elif set(node) == {"Fn::GetAtt"}:
            yield path, node["Fn::GetAtt"][0], node["Fn::GetAtt"][1]
        elif set(node) == {"Fn::Sub"}:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            for name in re.findall(r"\$\{([^}!]+)\}", text):
                logical, _, attribute = name.partition(".")
                yield path, logical, attribute or None


@pytest.mark.parametrize(("where", "name", "attribute"), list(references()))
def test_every_reference_resolves(where: str, name: str, attribute: str | None) -> None:
    if attribute is None:
        assert name in RESOURCES or name in PARAMETERS or name in PSEUDO, f"{where}: Ref {name} resolves to nothing"
        return
    assert name in RESOURCES, f"{where}: GetAtt {name}.{attribute} names no resource"
    allowed = GETATT.get(RESOURCES[name]["Type"])
    assert attribute in (allowed or set()), f"{where}: {RESOURCES[name]['Type']} has no attribute {attribute}"


def test_reference_walker_finds_refs_inside_sam_events() -> None:
    found = {(name, attribute) for _, name, attribute in references()}
    assert ("InboundQueue", "Arn") in found  # AttributionFunction's SQS event
    assert ("HttpApi", None) in found


def queues_consumed() -> dict[str, str]:
    return {source.queue: source.function for source in TEMPLATE.sqs_sources()}


def dead_letter_queues() -> set[str]:
    return {
        spec["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for spec in TEMPLATE.of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in spec["Properties"]
    }


@pytest.mark.parametrize(("queue", "function"), sorted(queues_consumed().items()))
def test_every_consumed_queue_has_a_dlq_and_a_long_enough_visibility_timeout(queue: str, function: str) -> None:
    props = RESOURCES[queue]["Properties"]
    redrive = props.get("RedrivePolicy")
    assert redrive, f"{queue} is consumed by {function} but has no RedrivePolicy"
    dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert RESOURCES[dlq]["Type"] == "AWS::SQS::Queue"
    assert bool(RESOURCES[dlq]["Properties"].get("FifoQueue")) == bool(props.get("FifoQueue")), "a FIFO queue needs a FIFO DLQ"
    assert 1 <= int(redrive["maxReceiveCount"]) <= 10
    function_timeout = RESOURCES[function]["Properties"].get("Timeout", TEMPLATE.body["Globals"]["Function"]["Timeout"])
    assert int(props["VisibilityTimeout"]) >= 6 * int(function_timeout)


def test_every_queue_is_consumed_a_dlq_or_a_long_lived_store() -> None:
    consumed, dlqs = set(queues_consumed()), dead_letter_queues()
    for name, spec in TEMPLATE.of_type("AWS::SQS::Queue").items():
        if name in consumed:
            continue
        assert int(spec["Properties"].get("MessageRetentionPeriod", 0)) == 1_209_600, f"{name} keeps messages less than 14 days"
        if name not in dlqs:
            alarms = [
                a for a in TEMPLATE.of_type("AWS::CloudWatch::Alarm").values() if name in str(a["Properties"]["Dimensions"])
            ]
            assert alarms, f"{name} is neither consumed nor a DLQ and has no alarm"


def alarmed_resources(metric_part: str = "") -> set[str]:
    """The template resources alarms watch (a custom metric's dimension names none)."""
    values = [
        a["Properties"]["Dimensions"][0]["Value"]
        for a in TEMPLATE.of_type("AWS::CloudWatch::Alarm").values()
        if metric_part in a["Properties"]["MetricName"]
    ]
    return {logical_id(value) for value in values if isinstance(value, dict)}


def test_every_dlq_has_an_alarm() -> None:
    assert dead_letter_queues() <= alarmed_resources()


def test_operations_every_alarm_reaches_someone_and_every_function_is_watched() -> None:
    alarms = TEMPLATE.of_type("AWS::CloudWatch::Alarm")
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], f"{name} notifies nobody"
    functions = set(TEMPLATE.of_type("AWS::Serverless::Function"))
    assert functions <= alarmed_resources(), "a function has no errors alarm"
    assert {"InboundQueue", "SignalQueue", "ScheduleDLQ", "HttpApi"} <= alarmed_resources()
    assert alarmed_resources("AgeOfOldest") == {"InboundQueue", "SignalQueue"}
    assert "TokensRefreshFailed" in {a["Properties"]["MetricName"] for a in alarms.values()}
    assert RESOURCES["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_logs_expire_and_schedules_retry_into_a_dlq() -> None:
    for name, spec in TEMPLATE.of_type("AWS::Serverless::Function").items():
        log_group = spec["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert RESOURCES[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    for name, spec in TEMPLATE.of_type("AWS::Serverless::Function").items():
        for event_name, event in spec["Properties"].get("Events", {}).items():
            assert event["Type"] != "Schedule", f"{name}/{event_name}: use ScheduleV2 (retries and a DLQ)"
            if event["Type"] == "ScheduleV2":
                props = event["Properties"]
                assert props["RetryPolicy"]["MaximumRetryAttempts"] >= 1
                assert props["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ScheduleDLQ", "Arn"]}}


def test_inbound_queue_is_fifo_with_explicit_dedup_ids_and_high_throughput() -> None:
    props = RESOURCES["InboundQueue"]["Properties"]
    assert props["FifoQueue"] is True
    assert props["ContentBasedDeduplication"] is False
    assert props["DeduplicationScope"] == "messageGroup"
    assert props["FifoThroughputLimit"] == "perMessageGroupId"


def test_attribution_knows_the_inbound_queues_last_receive_and_may_write_its_dlq() -> None:
    """It writes a record failing its last receive to InboundDLQ itself, with the reason: SQS's redrive cannot add one."""
    redrive = RESOURCES["InboundQueue"]["Properties"]["RedrivePolicy"]
    function = RESOURCES["AttributionFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    assert variables["INBOUND_MAX_RECEIVE_COUNT"] == str(redrive["maxReceiveCount"])
    assert variables["INBOUND_DLQ_URL"] == {"Fn::GetAtt": [redrive["deadLetterTargetArn"]["Fn::GetAtt"][0], "QueueUrl"]}
    sends = [p["SQSSendMessagePolicy"]["QueueName"] for p in function["Policies"] if "SQSSendMessagePolicy" in p]
    assert {"Fn::GetAtt": ["InboundDLQ", "QueueName"]} in sends
    assert {"Fn::GetAtt": ["ParkedQueue", "QueueName"]} in sends


def test_the_webhooks_queues_take_the_message_size_the_adapters_send() -> None:
    """The webhook parks what is larger (domain/webhooks.py); a queue taking less would refuse it: 503s for days."""
    assert RESOURCES["InboundQueue"]["Properties"]["MaximumMessageSize"] == QUEUE_MESSAGE_LIMIT_BYTES
    # ParkedQueue keeps SQS's default (1 MiB): AttributionFunction parks whole InboundQueue records there, in base64.
    assert RESOURCES["ParkedQueue"]["Properties"].get("MaximumMessageSize", 1024 * 1024) >= QUEUE_MESSAGE_LIMIT_BYTES


def test_parked_payloads_expire_after_their_records_and_only_the_webhook_writes_them() -> None:
    bucket = RESOURCES["ParkedPayloadsBucket"]["Properties"]
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    retention_days = RESOURCES["ParkedQueue"]["Properties"]["MessageRetentionPeriod"] / 86_400
    assert retention_days < rule["ExpirationInDays"] <= retention_days + 1  # no record names a payload already gone
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert {g for g in grants(TEMPLATE) if g.resource == "ParkedPayloadsBucket"} == {
        Grant("WebhookFunction", "s3:PutObject", "ParkedPayloadsBucket")
    }
    assert TEMPLATE.function_environment("WebhookFunction")["PARKED_PAYLOADS_BUCKET"] == {"Ref": "ParkedPayloadsBucket"}


@pytest.mark.parametrize("function", sorted(TEMPLATE.of_type("AWS::Serverless::Function")))
def test_function_policies_are_scoped_policy_templates(function: str) -> None:
    """SAM policy templates scoped to one resource, or inline statements naming the template's own resources: no "*"."""
    policies = RESOURCES[function]["Properties"].get("Policies", [])
    assert policies, f"{function} declares no policies"
    for policy in policies:
        assert isinstance(policy, dict), f"{function}: {policy!r} is a managed policy, not a scoped policy template"
        assert len(policy) == 1, f"{function}: {policy!r} is not one SAM policy template"
        [(name, arguments)] = policy.items()
        if name == "Statement":
            for statement in arguments:
                assert statement["Effect"] == "Allow"
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                for resource in resources:
                    assert resource != "*", f"{function}: statement {statement.get('Sid')} grants on every resource"
                    assert logical_id(resource) in RESOURCES, f"{function}: {resource!r} is not one of the template's resources"
            continue
        assert name in SCOPED_POLICY_TEMPLATES, f"{function}: {name} is not a resource-scoped policy template"
        argument, resource_type = SCOPED_POLICY_TEMPLATES[name]
        reference = arguments[argument]
        target = reference.get("Ref") or reference.get("Fn::GetAtt", [None])[0]
        assert RESOURCES[target]["Type"] == resource_type, f"{function}: {name} must point at a {resource_type}"


@pytest.mark.parametrize("spec", TEMPLATE.functions(), ids=lambda s: s.logical_id)
def test_handler_exists(spec: Any) -> None:
    assert spec.module_path.is_file(), f"{spec.module_path} missing"
    assert f"def {spec.function_name}(" in spec.module_path.read_text()


def test_globals() -> None:
    function_globals = TEMPLATE.body["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Tracing"] == "Active"
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"):
        assert name in function_globals["Environment"]["Variables"]


def test_the_layer_is_built_by_its_makefile_for_the_functions_runtime() -> None:
    """sam build runs `make build-<LogicalId>`; the Makefile installs for the functions' Python and architecture."""
    [(name, layer)] = TEMPLATE.of_type("AWS::Serverless::LayerVersion").items()
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert f"build-{name}:" in makefile
    function_globals = TEMPLATE.body["Globals"]["Function"]
    python = function_globals["Runtime"].removeprefix("python")
    assert f"--python-version {python}" in makefile
    assert "--no-deps" in makefile
    assert layer["Properties"]["CompatibleRuntimes"] == [function_globals["Runtime"]]
    assert function_globals["Architectures"] == ["arm64"]
    assert "manylinux2014_aarch64" in makefile


def test_sqs_sources_report_batch_item_failures() -> None:
    sources = TEMPLATE.sqs_sources()
    assert {s.function for s in sources} == {"AttributionFunction", "KeywordSignalFunction", "ReportRollupFunction"}
    assert all(s.report_batch_item_failures for s in sources)


def test_rollups_stay_within_the_tiktok_qps_tier_at_every_allowed_setting() -> None:
    """Maximum concurrency x one call per pace interval per invocation never exceeds the tier's share."""
    from messaging_partner.domain.rollups import ROLLUP_QPS_SHARE, rollup_pace

    parameters = TEMPLATE.body["Parameters"]
    (source,) = [s for s in TEMPLATE.sqs_sources() if s.function == "ReportRollupFunction"]
    assert source.max_concurrency == {"Ref": "RollupMaxConcurrency"}
    concurrency = parameters["RollupMaxConcurrency"]
    assert concurrency["MinValue"] == 2  # Lambda's floor for MaximumConcurrency
    for tier in parameters["TikTokQpsTier"]["AllowedValues"]:
        for invocations in (concurrency["MinValue"], concurrency["Default"], concurrency["MaxValue"]):
            calls_per_second = invocations / rollup_pace(tier, invocations)
            assert calls_per_second <= tier * ROLLUP_QPS_SHARE + 1e-9
    assert parameters["RollupMaxConcurrency"]["Default"] == parameters["TikTokQpsTier"]["Default"] * ROLLUP_QPS_SHARE


def test_routes() -> None:
    routes = {(r.method, r.path, r.function, r.iam_auth) for r in TEMPLATE.http_routes()}
    assert routes == {
        ("GET", "/webhooks/{channel}", "WebhookFunction", False),
        ("POST", "/webhooks/{channel}", "WebhookFunction", False),
        ("GET", "/oauth/tiktok/{kind}/start", "OAuthFunction", False),
        ("GET", "/oauth/tiktok/callback", "OAuthFunction", False),
        ("ANY", "/admin/{proxy+}", "AdminFunction", True),
    }
    assert RESOURCES["HttpApi"]["Properties"]["Auth"]["EnableIamAuthorizer"] is True


@pytest.mark.parametrize("table", sorted(TEMPLATE.of_type("AWS::DynamoDB::Table")))
def test_tables(table: str) -> None:
    props = RESOURCES[table]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    defined = {a["AttributeName"] for a in props["AttributeDefinitions"]}
    used = {k["AttributeName"] for k in props["KeySchema"]} | {
        k["AttributeName"] for index in props.get("GlobalSecondaryIndexes", []) for k in index["KeySchema"]
    }
    assert defined == used, "every defined attribute is a key, and every key is defined"


def test_design_indexes() -> None:
    def indexes(table: str) -> set[str]:
        return {i["IndexName"] for i in RESOURCES[table]["Properties"].get("GlobalSecondaryIndexes", [])}

    assert indexes("AccountLinksTable") == {"by_channel_account", "refresh_due", "advertisers"}
    assert "by_advertiser" in indexes("ConversationsTable")


def test_secrets_are_secrets_manager_resources_not_parameters() -> None:
    assert not [name for name in PARAMETERS if re.search("secret|token|password", name, re.IGNORECASE)]
    secrets = TEMPLATE.of_type("AWS::SecretsManager::Secret")
    assert set(secrets) == {"MetaAppSecret", "MetaVerifyToken", "TikTokAppSecret"}
    for spec in secrets.values():
        assert "SecretString" not in spec["Properties"], "no secret value in the template"
        assert spec["Metadata"]["LocalEnvVar"]


def test_conversation_events_route_to_signal_queue() -> None:
    [rule] = TEMPLATE.of_type("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"]["detail-type"] == ["ConversationAttributed"]
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["SignalQueue", "Arn"]}


def test_schedules() -> None:
    schedules = {(s.function, s.expression) for s in TEMPLATE.schedules()}
    assert ("TokenRefreshFunction", "rate(1 hour)") in schedules
    assert ("ReportRollupFunction", "rate(1 hour)") in schedules
    assert any(f == "ReportRollupFunction" and e.startswith("cron(") for f, e in schedules)


def test_outputs_name_the_urls_to_register() -> None:
    outputs = TEMPLATE.body["Outputs"]
    assert outputs["OAuthCallbackUrl"]["Value"]["Fn::Sub"].endswith("/oauth/tiktok/callback")
    for channel in ("WhatsApp", "Messenger", "Instagram", "TikTok"):
        assert outputs[f"{channel}WebhookUrl"]["Value"]["Fn::Sub"].endswith(f"/webhooks/{channel.lower()}")
    assert outputs["AdvertiserConnectUrl"]["Value"]["Fn::Sub"].endswith("/oauth/tiktok/advertiser/start")
    assert outputs["BusinessConnectUrl"]["Value"]["Fn::Sub"].endswith("/oauth/tiktok/business/start")
    assert outputs["AdminApiUrl"]["Value"]["Fn::Sub"].endswith("/admin")


def test_layer_ships_the_domain_package() -> None:
    [layer] = TEMPLATE.layer_dirs()
    assert (layer / "messaging_partner" / "__init__.py").is_file()
    assert (layer / "requirements.txt").is_file()
    assert layer.is_relative_to(ROOT)


def test_every_samconfig_environment_deploys_without_prompts() -> None:
    """sam deploy --config-env <env> (no --guided) needs a value for every parameter: a default or an override."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    environments = {name: sections for name, sections in config.items() if isinstance(sections, dict) and "deploy" in sections}
    assert set(environments) == {"default", "dev", "prod"}
    for name, sections in environments.items():
        deploy = sections["deploy"]["parameters"]
        overrides = dict(shlex_pairs(deploy.get("parameter_overrides", "")))
        unset = [p for p, spec in PARAMETERS.items() if "Default" not in spec and p not in overrides]
        assert not unset, f"samconfig.toml [{name}] leaves {unset} without a value: sam deploy would prompt or fail"
        assert set(overrides) <= set(PARAMETERS), f"[{name}] overrides parameters the template does not have"
        assert {"capabilities", "resolve_s3"} <= set(deploy), f"[{name}] needs capabilities and resolve_s3 to deploy"


def shlex_pairs(overrides: str) -> list[tuple[str, str]]:
    return [tuple(pair.split("=", 1)) for pair in shlex.split(overrides)]  # type: ignore[misc]


def test_data_outlives_the_stack() -> None:
    """Tables, the key that encrypts tokens and the secrets survive sam delete and a replacing change."""
    kept = {
        *TEMPLATE.of_type("AWS::DynamoDB::Table"),
        *TEMPLATE.of_type("AWS::KMS::Key"),
        *TEMPLATE.of_type("AWS::SecretsManager::Secret"),
    }
    for name in kept:
        assert (RESOURCES[name].get("DeletionPolicy"), RESOURCES[name].get("UpdateReplacePolicy")) == ("Retain", "Retain"), name
    for name in TEMPLATE.of_type("AWS::DynamoDB::Table"):
        assert RESOURCES[name]["Properties"]["DeletionProtectionEnabled"] == {"Ref": "DeletionProtection"}
    assert PARAMETERS["DeletionProtection"]["Default"] == "true"
