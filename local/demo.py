"""make demo: start the local stack, replay the scenario, wait for the queues to drain, report, stop."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

import requests

from .control import running_stack, wait_until_drained
from .pricing import price_per_million_messages
from .provision import local_secret_value
from .scenario import DEMO_PHONE_NUMBER_ID, DemoScenario, demo_scenario
from .stack import HOST, RUN_DIR, StackPorts, local_aws_client


def progress(done: int, total: int, label: str, width: int = 30) -> None:
    """A bar redrawn in place on a terminal; one line per step in a log."""
    filled = width * done // total
    line = f"  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {label[:60]:<60}"
    if sys.stdout.isatty():
        sys.stdout.write("\r" + line + ("\n" if done == total else ""))
    else:
        sys.stdout.write(line.rstrip() + "\n")
    sys.stdout.flush()


def conversation_items(ports: StackPorts, table: str) -> list[dict[str, Any]]:
    """Every item of the (small, local) Conversations table; a scan is fine for a demo report."""
    dynamodb = local_aws_client("dynamodb", ports.aws)
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return items


def run_demo() -> int:
    print("TikTok Messaging Partner backend: local demo\n")
    started = time.monotonic()
    with running_stack() as ports:
        print(
            f"Local stack up in {time.monotonic() - started:.1f} s: API http://{HOST}:{ports.api}, "
            f"TikTok emulator :{ports.tiktok}, moto :{ports.aws}\n"
        )
        scenario = demo_scenario(local_secret_value("META_APP_SECRET"))
        print(f"Replaying {len(scenario.deliveries)} signed WhatsApp webhook deliveries")
        answers = replay(ports, scenario)
        print("\nWaiting for the queues to drain ...", end=" ", flush=True)
        drain_started = time.monotonic()
        status = wait_until_drained(ports)
        print(f"done in {time.monotonic() - drain_started:.1f} s\n")
        items = conversation_items(ports, status["resources"]["ConversationsTable"])
        return report(scenario, answers, status, items)


def replay(ports: StackPorts, scenario: DemoScenario) -> list[tuple[str, int, dict[str, Any]]]:
    answers = []
    url = f"http://{HOST}:{ports.api}/webhooks/whatsapp"
    for index, delivery in enumerate(scenario.deliveries, start=1):
        response = requests.post(url, data=delivery.body, headers=delivery.headers, timeout=30)
        answers.append((delivery.label, response.status_code, response.json()))
        progress(index, len(scenario.deliveries), f"{delivery.label} -> {response.status_code}")
    return answers


def report(
    scenario: DemoScenario, answers: list[tuple[str, int, dict[str, Any]]], status: dict[str, Any], items: list[dict[str, Any]]
) -> int:
    statuses = Counter(code for _, code, _ in answers)
    enqueued = sum(body.get("accepted", 0) for _, code, body in answers if code == 200)
    conversations = [i for i in items if i["sk"]["S"] == "META"]
    markers = [i for i in items if i["sk"]["S"].startswith("MSG#")]
    sources = Counter(c["source"]["S"] for c in conversations)
    delivered = status["pumps"]["KeywordSignalFunction"]["record_types"]
    stored_customers = {c["customer_id"]["S"]: int(c["customer_message_count"]["N"]) for c in conversations}
    refused_found = [c for c in scenario.refused_customers if c in stored_customers]
    duplicates = enqueued - len(markers)

    print("What happened")
    rows = [
        (
            "Webhook deliveries",
            f"{len(answers)} sent: {statuses[200]} accepted (200), {statuses[401]} refused (401 bad signature)",
        ),
        ("Inbound messages", f"{enqueued} enqueued, {len(markers)} stored once each, {duplicates} duplicate dropped"),
        ("Conversations stored", f"{len(conversations)} ({', '.join(f'{n} {s}' for s, n in sorted(sources.items()))})"),
        (
            "Events on SignalQueue",
            f"{delivered.get('ConversationAttributed', 0)} ConversationAttributed (via the bus), "
            f"{delivered.get('MessageReceived', 0)} MessageReceived (direct)",
        ),
        ("Dead-letter queues", ", ".join(f"{q}: {d['visible']}" for q, d in status["queues"].items() if "DLQ" in q)),
        ("Parked payloads", str(status["queues"]["ParkedQueue"]["visible"])),
    ]
    for name, text in rows:
        print(f"  {name:<24}{text}")

    print(f"\nAWS requests per inbound message ({len(markers)} messages; handlers only, not Lambda's queue polling)")
    by_operation: Counter[tuple[str, str]] = Counter()
    for row in status["aws_requests"]:
        by_operation[(row["service"], row["operation"])] += row["count"]
    print(f"  {'service':<16}{'operation':<22}{'requests':>9}{'per message':>13}")
    for (service, operation), count in sorted(by_operation.items()):
        print(f"  {service:<16}{operation:<22}{count:>9}{count / max(len(markers), 1):>13.2f}")
    total = sum(by_operation.values())
    print(f"  {'total':<38}{total:>9}{total / max(len(markers), 1):>13.2f}")
    cost = price_per_million_messages(by_operation, len(markers))
    print(f"  ~ ${cost:.2f} of AWS requests per million inbound messages at us-east-1 list prices (local/pricing.py)")

    checks = [
        ("every customer's messages stored exactly once", stored_customers == scenario.customers),
        ("the duplicate delivery stored once", duplicates == 1 and statuses[200] == len(answers) - 1),
        ("the forged delivery refused (401) and nothing of it stored", statuses[401] == 1 and not refused_found),
        ("Meta's click-to-WhatsApp start recorded as a Meta ad", sources.get("meta_ad", 0) == len(scenario.meta_ad_customers)),
        ("one ConversationAttributed per conversation", delivered.get("ConversationAttributed", 0) == len(conversations)),
        ("one MessageReceived per stored message", delivered.get("MessageReceived", 0) == len(markers)),
        ("dead-letter queues empty", all(d["visible"] == 0 for q, d in status["queues"].items() if "DLQ" in q)),
    ]
    print("\nChecks")
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    print(f"\nHandler logs: {RUN_DIR / 'stack.log'}; the stack has stopped. Phone number id used: {DEMO_PHONE_NUMBER_ID}")
    return 0 if all(ok for _, ok in checks) else 1
