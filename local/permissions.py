"""IAM as the local stack does not enforce it: each function's policies in template.yaml against the calls it made.

moto allows every call, so a function whose policy lacks an action works locally and gets
AccessDenied in AWS. The local stack records every call a handler makes as IAM sees it
(local/runtime.py iam_requests: action and resource); this module expands each function's
`Policies` (the SAM policy templates we use, and inline statements) into the actions it may
take on which of the template's resources, and answers the calls no policy allows and the
grants no call used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .template import Template

# The SAM policy templates template.yaml uses: the actions each grants (AWS SAM policy_templates.json), and its
# parameter naming the resource. DynamoDB is granted by inline statements of the actions each function uses.
SAM_TEMPLATES: dict[str, tuple[tuple[str, ...], str]] = {
    "SQSSendMessagePolicy": (("sqs:SendMessage",), "QueueName"),
    "KMSDecryptPolicy": (("kms:Decrypt",), "KeyId"),
    "KMSEncryptPolicy": (("kms:Encrypt",), "KeyId"),
    "AWSSecretsManagerGetSecretValuePolicy": (("secretsmanager:GetSecretValue",), "SecretArn"),
    "EventBridgePutEventsPolicy": (("events:PutEvents",), "EventBusName"),
}


@dataclass(frozen=True)
class Grant:
    function: str
    action: str
    resource: str  # logical id; a DynamoDB grant covers the table's indexes too


def logical_id(value: Any) -> str:
    """The resource a policy names: {"Ref": X}, {"Fn::GetAtt": [X, attribute]} or {"Fn::Sub": "${X.Arn}/index/*"}."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str) and value["Fn::Sub"].startswith("${"):
        return str(value["Fn::Sub"][2:].split("}", 1)[0].split(".", 1)[0])
    raise ValueError(f"Cannot tell which resource {value!r} names")


def grants(template: Template) -> set[Grant]:
    """Every (function, action, resource) the template's policies allow."""
    allowed = set()
    for function, spec in template.of_type("AWS::Serverless::Function").items():
        for policy in spec["Properties"].get("Policies", []):
            (name, body), *_ = policy.items()
            if name == "Statement":
                for statement in body:
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    allowed |= {Grant(function, a, logical_id(r)) for a in actions for r in resources}
                continue
            if name not in SAM_TEMPLATES:
                raise ValueError(f"{function}: policy template {name} is not known here; add what it grants to SAM_TEMPLATES")
            actions, parameter = SAM_TEMPLATES[name]
            allowed |= {Grant(function, action, logical_id(body[parameter])) for action in actions}
    return allowed


def physical_names(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Physical name or id (as the recorded calls carry it) -> logical id."""
    names = {}
    for logical, values in attributes.items():
        for value in values.values():
            names[str(value)] = logical
            names[str(value).rsplit("/", 1)[-1]] = logical  # a queue URL's last part is the queue's name
    return names


def requested(touched: Iterable[Mapping[str, str]], attributes: Mapping[str, Mapping[str, str]]) -> set[Grant]:
    """The recorded calls as grants they need; an index counts as its table."""
    names = physical_names(attributes)
    needed = set()
    for call in touched:
        kind, name = call["resource"].split(":", 1)
        if kind == "index":
            name = name.split("/", 1)[0]
        needed.add(Grant(call["function"], call["action"], names.get(name, f"<not in the template: {name}>")))
    return needed


def denied(touched: Iterable[Mapping[str, str]], attributes: Mapping[str, Mapping[str, str]], template: Template) -> list[str]:
    """Each call no policy of its function allows, as a sentence naming function, action and resource."""
    allowed = grants(template)
    return sorted(
        f"{g.function} calls {g.action} on {g.resource}, which its policies do not allow"
        for g in requested(touched, attributes) - allowed
    )


def unused(touched: Iterable[Mapping[str, str]], attributes: Mapping[str, Mapping[str, str]], template: Template) -> set[Grant]:
    """The grants no recorded call used."""
    return grants(template) - requested(touched, attributes)
