"""Reads template.yaml (the one list of resources) and resolves its intrinsic functions locally."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass(frozen=True)
class HttpRoute:
    function: str
    method: str  # GET, POST, ANY
    path: str  # /webhooks/{channel}, /admin/{proxy+}
    iam_auth: bool


@dataclass(frozen=True)
class SqsSource:
    function: str
    queue: str  # logical id
    batch_size: int
    report_batch_item_failures: bool
    max_concurrency: Any = None  # ScalingConfig.MaximumConcurrency as written (a number or a Ref); None: unset


@dataclass(frozen=True)
class Schedule:
    function: str
    name: str
    expression: str
    input: str | None


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str  # module.function

    @property
    def module_path(self) -> Path:
        return self.code_dir / (self.handler.rsplit(".", 1)[0] + ".py")

    @property
    def function_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class Template:
    body: dict[str, Any] = field(default_factory=load_template)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: spec for name, spec in self.resources.items() if spec["Type"] == resource_type}

    def functions(self) -> list[FunctionSpec]:
        return [
            FunctionSpec(name, ROOT / spec["Properties"]["CodeUri"], spec["Properties"]["Handler"])
            for name, spec in self.of_type("AWS::Serverless::Function").items()
        ]

    def layer_dirs(self) -> list[Path]:
        return [ROOT / spec["Properties"]["ContentUri"] for spec in self.of_type("AWS::Serverless::LayerVersion").values()]

    def _events(self, event_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (function, event_name, event.get("Properties", {}))
            for function, spec in self.of_type("AWS::Serverless::Function").items()
            for event_name, event in spec["Properties"].get("Events", {}).items()
            if event["Type"] == event_type
        ]

    def http_routes(self) -> list[HttpRoute]:
        return [
            HttpRoute(
                function=function,
                method=props["Method"].upper(),
                path=props["Path"],
                iam_auth=props.get("Auth", {}).get("Authorizer") == "AWS_IAM",
            )
            for function, _, props in self._events("HttpApi")
        ]

    def sqs_sources(self) -> list[SqsSource]:
        return [
            SqsSource(
                function=function,
                queue=props["Queue"]["Fn::GetAtt"][0],
                batch_size=int(props.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                max_concurrency=props.get("ScalingConfig", {}).get("MaximumConcurrency"),
            )
            for function, _, props in self._events("SQS")
        ]

    def schedules(self) -> list[Schedule]:
        """EventBridge rule schedules (Schedule) and EventBridge Scheduler schedules (ScheduleV2)."""
        rules = [(f, n, p["Schedule"], p.get("Input")) for f, n, p in self._events("Schedule")]
        scheduler = [(f, n, p["ScheduleExpression"], p.get("Input")) for f, n, p in self._events("ScheduleV2")]
        return [Schedule(*schedule) for schedule in rules + scheduler]

    def parameter_defaults(self) -> dict[str, str]:
        return {name: str(spec["Default"]) for name, spec in self.body.get("Parameters", {}).items() if "Default" in spec}

    def function_environment(self, logical_id: str) -> dict[str, Any]:
        global_env = self.body.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own_env = self.resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        return {**global_env, **own_env}


AttributeLookup = Callable[[str, str], str]


@dataclass
class Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub and Fn::Join against local physical resources."""

    parameters: Mapping[str, str]
    attribute: AttributeLookup  # (logical id, attribute or "Ref") -> value
    stack_name: str = "messaging-partner-local"

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def ref(self, name: str) -> str:
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        return self.attribute(name, "Ref")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.attribute(logical_id, attribute)
        if set(value) == {"Fn::Sub"}:
            return self._sub(value["Fn::Sub"])
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(p)) for p in parts)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, spec: str | list[Any]) -> str:
        text, variables = (spec, {}) if isinstance(spec, str) else (spec[0], spec[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.attribute(logical_id, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)
