"""make bench: handler work per request next to its floor, measured in the same run.

Webhook: the real WebhookFunction handler (HTTP API v2 event in, response out) with its AWS
calls stubbed, against the floor every webhook must pay: HMAC-SHA256 of the raw body plus
json.loads of it. Figures are medians of repeated timed runs; the ratio is what to watch,
since this machine is shared and noisy.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))

from local.apigw import build_v2_event  # noqa: E402
from local.runtime import LambdaContext, load_handler  # noqa: E402
from local.scenario import WhatsAppChange, WhatsAppMessage, hub_signature, whatsapp_body  # noqa: E402
from local.template import HttpRoute, Template  # noqa: E402

SECRET = "bench-meta-app-secret"  # noqa: S105 - a fixture value, not a credential


class StubSqs:
    """Answers SendMessageBatch as SQS does for a healthy queue, without a network."""

    def __init__(self) -> None:
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in Entries], "Failed": []}


class StubSecrets:
    def meta_app_secret(self) -> str:
        return SECRET

    def meta_verify_token(self) -> str:
        return "bench-verify-token"

    def tiktok_app_secret(self) -> str:
        return "bench-tiktok-secret"


def prepare_webhook() -> tuple[Callable[[Any, Any], Any], StubSqs]:
    template = Template()
    for name, value in template.function_environment("WebhookFunction").items():
        # Names from the template; literal values kept, references stand-ins (AWS is stubbed).
        os.environ.setdefault(name, value if isinstance(value, str) else f"bench-{name.lower()}")
    os.environ["MESSAGE_MARKER_TTL_DAYS"] = "30"
    # As deployed: INFO logs and EMF metrics on (both are per-request work in Lambda), tracing off.
    os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_LOG_LEVEL": "INFO"})
    os.environ.update({"POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_METRICS_NAMESPACE": "Bench"})
    spec = next(f for f in template.functions() if f.logical_id == "WebhookFunction")
    handler = load_handler(spec)
    module = sys.modules["local_fn_WebhookFunction"]
    stub = StubSqs()
    from messaging_partner import aws

    aws.client.cache_clear()
    real_client = aws.client
    module_globals = vars(module)
    module_globals["secret_source"] = StubSecrets
    import messaging_partner.queues as queues

    queues.client = lambda service: stub if service == "sqs" else real_client(service)  # type: ignore[assignment]
    return handler, stub


def webhook_event(messages: int) -> tuple[dict[str, Any], bytes]:
    batch = tuple(
        WhatsAppMessage(f"35191000{i:04d}", f"wamid.BENCH{i}", 1_763_800_000 + i, "Hi! Do you ship sneakers to Lisbon? " * 3)
        for i in range(messages)
    )
    body = whatsapp_body(WhatsAppChange(batch))
    headers = {"content-type": "application/json", "x-hub-signature-256": hub_signature(SECRET, body)}
    route = HttpRoute("WebhookFunction", "POST", "/webhooks/{channel}", False)
    return build_v2_event(route, {"channel": "whatsapp"}, "POST", "/webhooks/whatsapp", headers, body, "127.0.0.1"), body


def median_seconds(work: Callable[[], object], repeats: int, rounds: int = 7) -> float:
    samples = []
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        for _ in range(repeats):
            work()
        samples.append((time.perf_counter() - started) / repeats)
    return statistics.median(samples)


def bench_webhook(report: TextIO) -> None:
    handler, stub = prepare_webhook()
    print("Webhook handler per request vs floor (HMAC-SHA256 + json.loads of the same body), AWS calls stubbed", file=report)
    print(
        f"  {'messages/request':<18}{'body bytes':>11}{'floor us':>11}{'handler us':>12}{'ratio':>8}{'SQS calls':>11}",
        file=report,
    )
    for messages in (1, 10, 50):
        event, body = webhook_event(messages)
        context = LambdaContext(function_name="WebhookFunction")
        assert handler(event, context)["statusCode"] == 200
        stub.calls = 0

        def floor(body: bytes = body) -> object:
            hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            return json.loads(body)

        def handle(event: dict[str, Any] = event, context: LambdaContext = context) -> object:
            return handler(event, context)

        repeats = max(20, 2000 // messages)
        floor_s = median_seconds(floor, repeats)
        stub.calls = 0
        handler_s = median_seconds(handle, repeats)
        calls_per_request = stub.calls / (repeats * 7)
        print(
            f"  {messages:<18}{len(body):>11}{floor_s * 1e6:>11.1f}{handler_s * 1e6:>12.1f}"
            f"{handler_s / floor_s:>8.1f}x{calls_per_request:>11.1f}",
            file=report,
        )


if __name__ == "__main__":
    report = sys.stdout
    # Handler logs and metrics are written (that cost counts) but to /dev/null, not the report.
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            bench_webhook(report)
        finally:
            sys.stdout = report
