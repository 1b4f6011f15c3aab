"""Handlers in process against moto (mock_aws), with resources provisioned from template.yaml."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handler_support import secrets, settings
from local.apigw import build_v2_event
from local.provision import Provisioned, local_parameters, provision
from local.pumps import sqs_record
from local.runtime import AwsFaults, AwsRequestCounter, FunctionRuntime, function_environment
from local.scenario import Delivery
from local.template import HttpRoute, Resolver, Template
from local.tiktok_emulator import EmulatorState, default_state, make_server, parameter_overrides
from messaging_partner.adapters.aws import clients

TEMPLATE = Template()


@dataclass
class IntegrationStack:
    session: boto3.session.Session
    provisioned: Provisioned
    runtime: FunctionRuntime
    counter: AwsRequestCounter

    def requests_by_operation(self) -> dict[tuple[str, str], int]:
        totals: dict[tuple[str, str], int] = {}
        for row in self.counter.snapshot():
            key = (row["service"], row["operation"])
            totals[key] = totals.get(key, 0) + row["count"]
        return totals

    def queue_url(self, logical_id: str) -> str:
        return self.provisioned.attribute(logical_id, "QueueUrl")

    def http(
        self, function: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Invoke an HTTP function with the v2 event API Gateway would build."""
        route = next(r for r in TEMPLATE.http_routes() if r.function == function and r.method in (method, "ANY"))
        event = build_v2_event(
            HttpRoute(function, route.method, route.path, route.iam_auth), {}, method, path, headers or {}, body, "127.0.0.1"
        )
        return dict(self.runtime.invoke(function, event))

    def drain(self, logical_id: str, max_messages: int = 10) -> list[dict[str, Any]]:
        """Receive (and delete) what a queue holds, with its system attributes."""
        sqs = self.session.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url(logical_id), MaxNumberOfMessages=max_messages, MessageSystemAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            for message in batch:
                sqs.delete_message(QueueUrl=self.queue_url(logical_id), ReceiptHandle=message["ReceiptHandle"])

    def sqs_event(self, messages: list[dict[str, Any]], logical_id: str) -> dict[str, Any]:
        return {"Records": [sqs_record(m, self.provisioned.attribute(logical_id, "Arn")) for m in messages]}

    def deliver(self, delivery: Delivery) -> dict[str, Any]:
        """A signed platform delivery (local.scenario builds them) through WebhookFunction."""
        return self.http("WebhookFunction", "POST", f"/webhooks/{delivery.channel}", delivery.body, delivery.headers)

    def bodies(self, logical_id: str) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.drain(logical_id)]


@dataclass
class RunningEmulator:
    state: EmulatorState
    base_url: str


@pytest.fixture(scope="session")
def emulator() -> Iterator[RunningEmulator]:
    """The TikTok emulator on a free loopback port, shared by the integration tests."""
    state = default_state("local-tiktok-app", "local-tiktok-app-secret")
    server = make_server("127.0.0.1", 0, state)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RunningEmulator(state, f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator) -> Iterator[IntegrationStack]:
    emulator.state.reset_controls()  # faults or a moved clock from an earlier test do not leak
    tiktok_base_url = emulator.base_url
    with mock_aws():
        session = boto3.session.Session()
        parameters = local_parameters(TEMPLATE, parameter_overrides(tiktok_base_url))
        provisioned = provision(TEMPLATE, session, parameters)
        resolver = Resolver(parameters=parameters, attribute=provisioned.attribute)
        for name, value in function_environment(TEMPLATE, resolver).items():
            monkeypatch.setenv(name, value)
        settings.settings.cache_clear()
        secrets.secret_source.cache_clear()
        secrets._provider.cache_clear()
        clients.client.cache_clear()
        boto3.setup_default_session()
        counter = AwsRequestCounter()
        counter.install(boto3.DEFAULT_SESSION)
        yield IntegrationStack(session, provisioned, FunctionRuntime(TEMPLATE, counter), counter)


@pytest.fixture
def aws_faults(aws_stack: IntegrationStack) -> AwsFaults:
    """AWS error answers to the handlers' matching calls (local/runtime.py AwsFault); clients are built afresh to see them."""
    faults = AwsFaults()
    assert boto3.DEFAULT_SESSION is not None
    faults.install(boto3.DEFAULT_SESSION)
    clients.client.cache_clear()
    return faults
