"""Runs the template's Lambda handlers in this process, as Lambda would, and counts their AWS requests.

Handlers are imported by the file and function name template.yaml gives them; each gets
its own module name, since every function folder has an app.py.
"""

from __future__ import annotations

import contextvars
import importlib.util
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from .template import ACCOUNT_ID, REGION, FunctionSpec, Resolver, Template

Handler = Callable[[Any, Any], Any]
_current_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_function", default=None)


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 30
    aws_request_id: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class AwsRequestCounter:
    """Counts AWS API calls made inside handlers, by function, service and operation (botocore hooks),
    and records what each touched as IAM sees it: the action and the resource (local/permissions.py checks them)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._touched: set[tuple[str, str, str]] = set()  # function, IAM action, resource
        self._lock = threading.Lock()

    def install(self, session: boto3.session.Session) -> None:
        session.events.register("before-call", self._on_call)
        session.events.register("before-parameter-build", self._on_parameters)

    def _on_parameters(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        function = _current_function.get()
        if function is None:
            return
        touched = {
            (function, action, resource)
            for action, resource in iam_requests(model.service_model.endpoint_prefix, model.name, params)
        }
        with self._lock:
            self._touched |= touched

    def touched(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"function": f, "action": a, "resource": r} for f, a, r in sorted(self._touched)]

    def _on_call(self, model: Any, **_: Any) -> None:
        function = _current_function.get()
        if function is None:
            return
        key = (function, model.service_model.service_id.hyphenize(), model.name)
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"function": f, "service": s, "operation": o, "count": n} for (f, s, o), n in sorted(self._counts.items())]


@dataclass
class AwsFault:
    """An error AWS answers instead of doing a call: to a function's calls of one operation whose request
    contains `match`, `times` times (None: until cleared). The answer is AWS's error shape, so the handler
    meets it exactly as it would a throttle or a conflict from AWS."""

    operation: str  # TransactWriteItems, SendMessage, PutEvents, ...
    code: str = "ThrottlingException"
    message: str = "Rate of requests exceeds the allowed throughput (local fault)"
    function: str | None = None  # None: any handler
    match: str = ""  # a text the request body must contain (a conversation key, a queue name, ...)
    times: int | None = None
    status: int = 400
    extra: dict[str, Any] = field(default_factory=dict)  # more of the error answer, e.g. CancellationReasons
    hits: int = 0


class AwsFaults:
    """Faults injected into handlers' AWS calls (botocore's before-call answers in place of AWS)."""

    def __init__(self) -> None:
        self._faults: list[AwsFault] = []
        self._lock = threading.Lock()

    def install(self, session: boto3.session.Session) -> None:
        session.events.register("before-call", self._on_call)

    def add(self, fault: AwsFault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> list[AwsFault]:
        with self._lock:
            cleared, self._faults = self._faults, []
            return cleared

    def listed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def _on_call(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        function = _current_function.get()
        if function is None:
            return None
        body = params.get("body", b"")
        text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
        with self._lock:
            for fault in self._faults:
                if fault.operation != model.name or fault.function not in (None, function) or fault.match not in text:
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                answer = {
                    "Error": {"Code": fault.code, "Message": fault.message},
                    "ResponseMetadata": {"HTTPStatusCode": fault.status, "HTTPHeaders": {}},
                    **fault.extra,
                }
                return AWSResponse("http://local-fault", fault.status, {}, None), answer
        return None


def iam_requests(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The IAM actions and resources one API call needs (resources by kind and physical name).

    A transaction is authorized item by item (each Put, Update, Delete or ConditionCheck on its
    table); a batch per table; SendMessageBatch by sqs:SendMessage.
    """
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
            return [
                (f"dynamodb:{kinds[kind]}", f"table:{body['TableName']}")
                for item in params.get("TransactItems", [])
                for kind, body in item.items()
            ]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", f"table:{table}") for table in params.get("RequestItems", {})]
        index = params.get("IndexName")
        resource = f"index:{params.get('TableName')}/{index}" if index else f"table:{params.get('TableName')}"
        return [(f"dynamodb:{operation}", resource)]
    if service == "sqs":
        action = "SendMessage" if operation == "SendMessageBatch" else operation
        return [(f"sqs:{action}", f"queue:{str(params.get('QueueUrl', '')).rsplit('/', 1)[-1]}")]
    if service == "kms":
        return [(f"kms:{operation}", f"key:{params.get('KeyId', '')}")]
    if service == "secretsmanager":
        return [(f"secretsmanager:{operation}", f"secret:{params.get('SecretId', '')}")]
    if service == "s3":
        return [(f"s3:{operation}", f"bucket:{params.get('Bucket', '')}")]
    if service == "events":
        return [(f"events:{operation}", f"bus:{entry.get('EventBusName', 'default')}") for entry in params.get("Entries", [])]
    return [(f"{service}:{operation}", "*")]


def function_environment(template: Template, resolver: Resolver) -> dict[str, str]:
    """One environment for all functions: they share names, and a clash would be a template bug."""
    merged: dict[str, str] = {}
    for function in template.functions():
        for name, value in template.function_environment(function.logical_id).items():
            resolved = str(resolver.resolve(value))
            if merged.get(name, resolved) != resolved:
                raise ValueError(
                    f"Environment variable {name} differs between functions; the local stack runs them in one process"
                )
            merged[name] = resolved
    return merged


class FunctionRuntime:
    def __init__(self, template: Template, counter: AwsRequestCounter) -> None:
        self._counter = counter
        self._specs = {spec.logical_id: spec for spec in template.functions()}
        self._timeouts = {
            name: int(spec["Properties"].get("Timeout", template.body.get("Globals", {}).get("Function", {}).get("Timeout", 3)))
            for name, spec in template.of_type("AWS::Serverless::Function").items()
        }
        for layer_dir in template.layer_dirs():
            if str(layer_dir) not in sys.path:
                sys.path.insert(0, str(layer_dir))
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.Lock()
        # Invocations that ran past their function's Timeout: Lambda would have killed them (and failed the
        # whole batch); locally nothing stops a handler, so they are counted instead.
        self.overruns: list[dict[str, Any]] = []

    def handler(self, logical_id: str) -> Handler:
        with self._import_lock:
            if logical_id not in self._handlers:
                self._handlers[logical_id] = load_handler(self._specs[logical_id])
            return self._handlers[logical_id]

    def cold_start(self, logical_id: str) -> None:
        """The next invoke loads the function afresh, as a new container would (nothing it cached survives)."""
        with self._import_lock:
            self._handlers.pop(logical_id, None)

    def invoke(self, logical_id: str, event: Mapping[str, Any] | Any) -> Any:
        handler = self.handler(logical_id)
        context = LambdaContext(function_name=logical_id, timeout_seconds=self._timeouts[logical_id])
        token = _current_function.set(logical_id)
        started = time.monotonic()
        try:
            return handler(event, context)
        finally:
            _current_function.reset(token)
            took = time.monotonic() - started
            if took > context.timeout_seconds:
                with self._import_lock:
                    self.overruns.append({"function": logical_id, "seconds": round(took, 1), "timeout": context.timeout_seconds})


def load_handler(spec: FunctionSpec) -> Handler:
    handler: Handler = getattr(load_module(spec, f"local_fn_{spec.logical_id}"), spec.function_name)
    return handler


def load_module(spec: FunctionSpec, module_name: str) -> ModuleType:
    """The function's handler module, imported afresh under its own name (every handler file is app.py)."""
    module_spec = importlib.util.spec_from_file_location(module_name, spec.module_path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"Cannot load {spec.module_path} for {spec.logical_id}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    return module
