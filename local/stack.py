"""The local stack: moto server, resources from template.yaml, the API shim, SQS pumps, schedules, TikTok emulator.

Everything listens on 127.0.0.1 only. Handlers run in this process with the environment
template.yaml gives them, pointed at moto through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3

from . import apigw, tiktok_emulator
from .provision import Provisioned, local_parameters, local_secret_value, provision
from .pumps import SqsPump
from .runtime import AwsFault, AwsFaults, AwsRequestCounter, FunctionRuntime, function_environment
from .template import ACCOUNT_ID, REGION, ROOT, Resolver, Template

HOST = "127.0.0.1"
RUN_DIR = ROOT / ".local"


def choose_port(env_var: str, default: int) -> int:
    """The port named by env_var (must be free), else the default, else any free port."""
    if os.environ.get(env_var):
        port = int(os.environ[env_var])
        if not port_is_free(port):
            raise SystemExit(f"Port {port} (from {env_var}) is already in use on {HOST}; choose another.")
        return port
    if port_is_free(default):
        return default
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen there; like our servers, ignore sockets lingering in TIME_WAIT."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class StackPorts:
    api: int
    tiktok: int
    aws: int

    @classmethod
    def choose(cls) -> StackPorts:
        api = choose_port("LOCAL_API_PORT", 3000)
        tiktok = choose_port("LOCAL_TIKTOK_PORT", 3100)
        aws = choose_port("LOCAL_AWS_PORT", 4566)
        return cls(api, tiktok, aws)


def aws_environment(aws_port: int) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": f"http://{HOST}:{aws_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }


def local_aws_client(service: str, aws_port: int) -> Any:
    """A client for the local moto server, outside any handler (so its calls are not counted)."""
    env = aws_environment(aws_port)
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=REGION
    )
    return session.client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


class LocalStack:
    def __init__(self, ports: StackPorts, retry_delay_seconds: int = 1) -> None:
        self.ports = ports
        self.template = Template()
        self.counter = AwsRequestCounter()
        self.faults = AwsFaults()
        self._retry_delay = retry_delay_seconds
        self._moto: subprocess.Popen[bytes] | None = None
        self._servers: list[ThreadingHTTPServer] = []
        self.pumps: list[SqsPump] = []
        self.provisioned = Provisioned()
        self.emulator_state = tiktok_emulator.default_state(
            os.environ.get("TIKTOK_APP_ID") or "local-tiktok-app", local_secret_value("TIKTOK_APP_SECRET")
        )
        self.runtime: FunctionRuntime | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._start_moto()
        os.environ.update(aws_environment(self.ports.aws))
        session = boto3.session.Session()  # the stack's own session: its calls are not counted
        # The redirect URI is configuration, never a request header: locally, this API's own address.
        own_callback = {
            "OAuthRedirectUrl": os.environ.get("OAUTH_REDIRECT_URL") or f"http://{HOST}:{self.ports.api}/oauth/tiktok/callback"
        }
        overrides = tiktok_emulator.parameter_overrides(f"http://{HOST}:{self.ports.tiktok}") | own_callback
        parameters = local_parameters(self.template, overrides)
        self.provisioned = provision(self.template, session, parameters)
        resolver = Resolver(parameters=parameters, attribute=self.provisioned.attribute)
        os.environ.update(function_environment(self.template, resolver))

        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        self.counter.install(boto3.DEFAULT_SESSION)
        self.faults.install(boto3.DEFAULT_SESSION)
        self.runtime = FunctionRuntime(self.template, self.counter)
        for function in self.template.functions():
            self.runtime.handler(function.logical_id)  # import now: a broken handler fails the start

        self._serve(tiktok_emulator.make_server(HOST, self.ports.tiktok, self.emulator_state))
        for source in self.template.sqs_sources():
            queue = self.provisioned.attributes[source.queue]
            concurrency = int(resolver.resolve(source.max_concurrency)) if source.max_concurrency else 1
            pump = SqsPump(
                source, queue["QueueUrl"], queue["Arn"], self.runtime.invoke, session, self._retry_delay, concurrency=concurrency
            )
            pump.start()
            self.pumps.append(pump)
        router = apigw.Router(self.template.http_routes())
        self._serve(apigw.make_server(HOST, self.ports.api, router, self.runtime.invoke, self._control))
        self._session = session

    def stop(self) -> None:
        for pump in self.pumps:
            pump.stop()
        for pump in self.pumps:
            pump.join(timeout=5)
        for server in self._servers:
            server.shutdown()
            server.server_close()
        if self._moto is not None:
            self._moto.terminate()
            try:
                self._moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._moto.kill()

    def _start_moto(self) -> None:
        RUN_DIR.mkdir(exist_ok=True)
        log = (RUN_DIR / "moto.log").open("ab")
        self._moto = subprocess.Popen(
            [sys.executable, "-m", "local.moto_server", "-H", HOST, "-p", str(self.ports.aws)],
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._moto.poll() is not None:
                raise SystemExit(f"moto server exited with {self._moto.returncode}; see {RUN_DIR / 'moto.log'}")
            if not port_is_free(self.ports.aws):
                return
            time.sleep(0.1)
        raise SystemExit("moto server did not start within 30 s")

    def _serve(self, server: ThreadingHTTPServer) -> None:
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, name=f"serve-{server.server_address[1]}", daemon=True).start()

    # ------------------------------------------------------------------ schedules
    def fire_schedule(self, function: str, event_name: str, at: str | None = None) -> Any:
        """Invoke a schedule's target now; `at` (ISO 8601) stands in for the scheduled time, to move the clock."""
        schedule = next((s for s in self.template.schedules() if (s.function, s.name) == (function, event_name)), None)
        if schedule is None:
            known = ", ".join(f"{s.function}/{s.name}" for s in self.template.schedules())
            raise KeyError(f"No schedule {function}/{event_name}; the template has: {known}")
        assert self.runtime is not None
        return self.runtime.invoke(function, scheduled_event(schedule.input, f"{function}-{event_name}", at))

    # ------------------------------------------------------------------ dead letters
    def redrive(self, dlq: str) -> dict[str, Any]:
        """What SQS's dead-letter queue redrive (StartMessageMoveTask) does: every message of the DLQ back to the
        queue whose redrive policy names it, oldest first, with its body, message group and attributes."""
        sources = [
            name
            for name, spec in self.template.of_type("AWS::SQS::Queue").items()
            if spec["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn") == {"Fn::GetAtt": [dlq, "Arn"]}
        ]
        if len(sources) != 1:
            raise KeyError(f"{dlq} is not the dead-letter queue of one queue in template.yaml")
        sqs = self._session.client("sqs")
        source_url, dlq_url = self.provisioned.attributes[sources[0]]["QueueUrl"], self.provisioned.attributes[dlq]["QueueUrl"]
        moved = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return {"moved": moved, "to": sources[0]}
            for message in messages:
                entry: dict[str, Any] = {"QueueUrl": source_url, "MessageBody": message["Body"]}
                if message.get("MessageAttributes"):
                    entry["MessageAttributes"] = message["MessageAttributes"]
                if "MessageGroupId" in message["Attributes"]:  # a moved message is a new one: its own dedup id
                    entry |= {
                        "MessageGroupId": message["Attributes"]["MessageGroupId"],
                        "MessageDeduplicationId": str(uuid.uuid4()),
                    }
                sqs.send_message(**entry)
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1

    # ------------------------------------------------------------------ status
    def queue_depths(self) -> dict[str, dict[str, int]]:
        sqs = self._session.client("sqs")
        depths = {}
        for name in self.template.of_type("AWS::SQS::Queue"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.provisioned.attributes[name]["QueueUrl"],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[name] = {
                "visible": int(attributes["ApproximateNumberOfMessages"]),
                "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
            }
        return depths

    def parked(self, peek: int = 10) -> list[dict[str, Any]]:
        """What ParkedQueue holds, without the bodies: channel, reason, when, and where in S3 when large. A peek."""
        sqs = self._session.client("sqs")
        answer = sqs.receive_message(
            QueueUrl=self.provisioned.attributes["ParkedQueue"]["QueueUrl"], MaxNumberOfMessages=peek, VisibilityTimeout=0
        )
        records = [json.loads(message["Body"]) for message in answer.get("Messages", [])]
        return [{key: record.get(key) for key in ("channel", "reason", "parked_at_ms", "size", "s3")} for record in records]

    def status(self) -> dict[str, Any]:
        depths = self.queue_depths()
        pumped = {pump.source.queue for pump in self.pumps}
        drained = all(depths[q]["visible"] == 0 and depths[q]["in_flight"] == 0 for q in pumped) and all(
            pump.stats.in_flight == 0 for pump in self.pumps
        )
        return {
            "stack_id": os.environ.get("LOCAL_STACK_ID", ""),
            "ports": {"api": self.ports.api, "tiktok": self.ports.tiktok, "aws": self.ports.aws},
            "queues": depths,
            "pumps": {pump.source.function: pump.stats.as_dict() for pump in self.pumps},
            "drained": drained,
            "parked": self.parked(),
            "aws_requests": self.counter.snapshot(),
            "aws_touched": self.counter.touched(),
            "overruns": self.runtime.overruns if self.runtime else [],
            "resource_attributes": self.provisioned.attributes,
            "resources": {name: attrs.get("Ref") for name, attrs in self.provisioned.attributes.items()},
            "schedules": [f"{s.function}/{s.name}" for s in self.template.schedules()],
        }

    def _control(self, method: str, target: str, body: bytes) -> tuple[int, Any] | None:
        path = urlsplit(target).path
        if method == "GET" and path == "/_local/status":
            return 200, self.status()
        if method == "POST" and path.startswith("/_local/schedules/"):
            parts = path.split("/")[3:]
            if len(parts) != 2:
                return 400, {"message": "Use POST /_local/schedules/<FunctionLogicalId>/<EventName>[?time=2026-01-01T00:00:00Z]"}
            at = dict(parse_qsl(urlsplit(target).query)).get("time")
            try:
                return 200, {"result": self.fire_schedule(parts[0], parts[1], at)}
            except KeyError as error:
                return 404, {"message": str(error.args[0])}
        if path == "/_local/faults/aws":
            return self._aws_faults(method, body)
        if method == "POST" and path.startswith("/_local/redrive/"):
            try:
                return 200, self.redrive(path.rsplit("/", 1)[-1])
            except KeyError as error:
                return 404, {"message": str(error.args[0])}
        return None

    def _aws_faults(self, method: str, body: bytes) -> tuple[int, Any]:
        """POST {"operation": "TransactWriteItems", "function": ..., "match": ..., "code": ..., "times": N} adds a fault
        (local/runtime.py AwsFault); GET lists them; DELETE clears them."""
        if method == "POST":
            try:
                self.faults.add(AwsFault(**json.loads(body or b"{}")))
            except (TypeError, ValueError) as error:
                return 400, {"message": f"Not a fault: {error}. Fields: see AwsFault in local/runtime.py"}
            return 200, {"faults": self.faults.listed()}
        if method == "DELETE":
            return 200, {"cleared": [asdict(fault) for fault in self.faults.clear()]}
        return 200, {"faults": self.faults.listed()}


SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"  # EventBridge Scheduler's context attribute in an Input


def scheduled_event(input_json: str | None, rule_name: str, at: str | None = None) -> Any:
    """What a schedule delivers: its Input when set (the scheduled time, at or now, in place of Scheduler's
    context attribute), else EventBridge's scheduled event (time = at, or now)."""
    when = at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if input_json is not None:
        return json.loads(input_json.replace(SCHEDULED_TIME, when))
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }
