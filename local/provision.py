"""Creates every table, queue, DLQ, bucket, bus, rule, KMS key and secret of template.yaml in moto.

No second list: whatever the template declares of these types is created, with its
properties translated to the API calls CloudFormation would make.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from .template import ACCOUNT_ID, REGION, Resolver, Template

LOCAL_SECRET_DEFAULTS = {
    "META_APP_SECRET": "local-meta-app-secret",
    "META_VERIFY_TOKEN": "local-verify-token",
    "TIKTOK_APP_SECRET": "local-tiktok-app-secret",
}
# Template parameters whose local value is not the template default, with the environment variable that overrides it.
LOCAL_PARAMETER_DEFAULTS = {
    "TikTokAppId": ("TIKTOK_APP_ID", "local-tiktok-app"),
    "ConfigCacheSeconds": ("CONFIG_CACHE_SECONDS", "60"),
}

_QUEUE_ATTRIBUTES = (
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "SqsManagedSseEnabled",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
)


def local_secret_value(env_var: str) -> str:
    return os.environ.get(env_var) or LOCAL_SECRET_DEFAULTS[env_var]


def local_parameters(template: Template, overrides: Mapping[str, str]) -> dict[str, str]:
    values = template.parameter_defaults()
    for name, (env_var, default) in LOCAL_PARAMETER_DEFAULTS.items():
        values[name] = os.environ.get(env_var) or default
    values.update(overrides)
    return values


@dataclass
class Provisioned:
    """Physical values of what was created, by logical id and attribute ("Ref", "Arn", ...)."""

    attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    def attribute(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise KeyError(f"{logical_id}.{attribute} is not provisioned locally") from None


def provision(template: Template, session: boto3.session.Session, parameters: Mapping[str, str]) -> Provisioned:
    provisioned = Provisioned()
    resolver = Resolver(parameters=parameters, attribute=provisioned.attribute)
    _kms_keys(template, session, provisioned)
    _secrets(template, session, provisioned)
    _tables(template, session, resolver, provisioned)
    _queues(template, session, resolver, provisioned)
    _buckets(template, session, resolver, provisioned)
    _buses(template, session, resolver, provisioned)
    _rules(template, session, resolver, provisioned)
    _placeholders(template, provisioned)
    return provisioned


def _kms_keys(template: Template, session: boto3.session.Session, provisioned: Provisioned) -> None:
    kms = session.client("kms")
    for name, spec in template.of_type("AWS::KMS::Key").items():
        key = kms.create_key(Description=spec["Properties"].get("Description", name))["KeyMetadata"]
        provisioned.attributes[name] = {"Ref": key["KeyId"], "Arn": key["Arn"], "KeyId": key["KeyId"]}


def _secrets(template: Template, session: boto3.session.Session, provisioned: Provisioned) -> None:
    secretsmanager = session.client("secretsmanager")
    for name, spec in template.of_type("AWS::SecretsManager::Secret").items():
        env_var = spec.get("Metadata", {}).get("LocalEnvVar")
        if env_var is None:
            raise ValueError(f"Secret {name} needs Metadata.LocalEnvVar to get a local value")
        arn = secretsmanager.create_secret(Name=name, SecretString=local_secret_value(env_var))["ARN"]
        provisioned.attributes[name] = {"Ref": arn, "Id": arn}


def _tables(template: Template, session: boto3.session.Session, resolver: Resolver, provisioned: Provisioned) -> None:
    dynamodb = session.client("dynamodb")
    for name, spec in template.of_type("AWS::DynamoDB::Table").items():
        props = resolver.resolve(spec["Properties"])
        table_name = props.get("TableName", name)
        request: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("SSESpecification", {}).get("SSEEnabled"):
            request["SSESpecification"] = {"Enabled": True}
        arn = dynamodb.create_table(**request)["TableDescription"]["TableArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=table_name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        provisioned.attributes[name] = {"Ref": table_name, "Arn": arn}


def _queues(template: Template, session: boto3.session.Session, resolver: Resolver, provisioned: Provisioned) -> None:
    sqs = session.client("sqs")
    queues = template.of_type("AWS::SQS::Queue")
    # Dead-letter queues first: the others need their ARNs.
    ordered = sorted(queues, key=lambda name: "RedrivePolicy" in queues[name]["Properties"])
    for name in ordered:
        props = resolver.resolve(queues[name]["Properties"])
        queue_name = props.get("QueueName") or (name + ".fifo" if props.get("FifoQueue") else name)
        attributes = {key: _attribute_text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}"
        provisioned.attributes[name] = {"Ref": url, "QueueUrl": url, "QueueName": queue_name, "Arn": arn}


def _buckets(template: Template, session: boto3.session.Session, resolver: Resolver, provisioned: Provisioned) -> None:
    """Each bucket, with the lifecycle, encryption and public access block CloudFormation would set (moto expires nothing)."""
    s3 = session.client("s3")
    for name, spec in template.of_type("AWS::S3::Bucket").items():
        props = resolver.resolve(spec.get("Properties", {}))
        bucket = props.get("BucketName") or name.lower()  # CloudFormation would add the stack name and a suffix
        s3.create_bucket(Bucket=bucket)
        if "BucketEncryption" in props:
            rules = [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}  # the API's name for it
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
        rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
        if rules:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [_lifecycle(r) for r in rules]})
        provisioned.attributes[name] = {
            "Ref": bucket,
            "Arn": f"arn:aws:s3:::{bucket}",
            "DomainName": f"{bucket}.s3.amazonaws.com",
            "RegionalDomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
        }


def _lifecycle(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule as the S3 API takes it (the rules template.yaml writes)."""
    translated: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        translated["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "AbortIncompleteMultipartUpload" in rule:
        translated["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return translated


def _attribute_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _buses(template: Template, session: boto3.session.Session, resolver: Resolver, provisioned: Provisioned) -> None:
    events = session.client("events")
    for name, spec in template.of_type("AWS::Events::EventBus").items():
        bus_name = resolver.resolve(spec["Properties"]["Name"])
        arn = events.create_event_bus(Name=bus_name)["EventBusArn"]
        provisioned.attributes[name] = {"Ref": bus_name, "Name": bus_name, "Arn": arn}


def _rules(template: Template, session: boto3.session.Session, resolver: Resolver, provisioned: Provisioned) -> None:
    events = session.client("events")
    for name, spec in template.of_type("AWS::Events::Rule").items():
        props = resolver.resolve(spec["Properties"])
        if "EventPattern" not in props:
            continue  # schedule rules never fire in moto; the local scheduler fires them
        bus = props.get("EventBusName", "default")
        arn = events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED")[
            "RuleArn"
        ]
        events.put_targets(Rule=name, EventBusName=bus, Targets=props.get("Targets", []))
        provisioned.attributes[name] = {"Ref": name, "Arn": arn}


def _placeholders(template: Template, provisioned: Provisioned) -> None:
    """Resources the local stack stands in for itself (functions, API, layer)."""
    for resource_type in ("AWS::Serverless::Function", "AWS::Serverless::HttpApi", "AWS::Serverless::LayerVersion"):
        for name in template.of_type(resource_type):
            provisioned.attributes[name] = {
                "Ref": f"local-{name}",
                "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            }
