"""make demo: start the local stack, replay the scenario, wait for the queues to drain, report, stop."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from .control import connect_in_browser, running_stack, stack_status, wait_until_drained
from .pricing import price_per_million_messages
from .provision import local_secret_value
from .report_check import BARS_AS_DRAWN, bar_problems, csv_problems, formula_problems
from .scenario import (
    DEMO_DISPLAY_NUMBER,
    DEMO_INSTAGRAM_ID,
    DEMO_PAGE_ID,
    DEMO_PHONE_NUMBER_ID,
    DEMO_TIKTOK_BUSINESS_ID,
    Delivery,
    DemoScenario,
    demo_scenario,
)
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
        connections = connect_accounts(ports)
        scenario = demo_scenario(local_secret_value("META_APP_SECRET"), local_secret_value("TIKTOK_APP_SECRET"), int(time.time()))
        connections["keywords"] = set_keywords(ports, scenario)
        print(f"Replaying {len(scenario.deliveries)} signed webhook deliveries from WhatsApp, Messenger, Instagram and TikTok")
        answers = replay(ports, scenario)
        print("\nWaiting for the queues to drain ...", end=" ", flush=True)
        drain_started = time.monotonic()
        status = wait_until_drained(ports)
        print(f"done in {time.monotonic() - drain_started:.1f} s\n")
        items = conversation_items(ports, status["resources"]["ConversationsTable"])
        counters = conversation_items(ports, status["resources"]["ReportsTable"])
        failed = report(scenario, answers, status, items, connections)
        failed |= ad_report(items, counters, ports) | signals_report(ports, scenario, items) | keep_tokens_alive(ports)
        failed |= rollup_report(ports, items, status["resources"]["ReportsTable"])
        failed |= permissions_report(ports)
    print(f"\nHandler logs: {RUN_DIR / 'stack.log'}; the stack has stopped.")
    return failed


Answer = tuple[str, str, int, dict[str, Any]]  # channel, label, HTTP status, JSON body
SIGNALS = "KeywordSignalFunction"
PIPELINE = ("WebhookFunction", "AttributionFunction", SIGNALS)  # the per-event path
DEMO_ADVERTISER = "7100000000000000001"
DEMO_LINKS = {
    "whatsapp": DEMO_PHONE_NUMBER_ID,
    "messenger": DEMO_PAGE_ID,
    "instagram": DEMO_INSTAGRAM_ID,
    "tiktok": DEMO_TIKTOK_BUSINESS_ID,
}


def connect_accounts(ports: StackPorts) -> dict[str, bool]:
    """What an advertiser does first: authorize both TikTok accounts (following every redirect), then link chats."""
    api = f"http://{HOST}:{ports.api}"
    print("Connecting TikTok accounts (browser redirects through the TikTok emulator)")
    outcome = {}
    for kind in ("advertiser", "business"):
        page = connect_in_browser(api, kind, "demo")
        hops = " -> ".join(str(r.status_code) for r in (*page.history, page))
        title = page.text.split("<title>", 1)[-1].split("</title>", 1)[0]
        print(f"  {kind:<11} {hops}: {title}")
        outcome[kind] = page.status_code == 200
    advertisers = requests.get(f"{api}/admin/advertisers", timeout=10).json()["advertisers"]
    for advertiser in advertisers:
        print(f"  ad account  {advertiser['advertiser_id']} {advertiser.get('name', '')} [{advertiser['status']}]")
    linked = []
    for channel, account in DEMO_LINKS.items():
        body = {"display_name": f"+{DEMO_DISPLAY_NUMBER}"} if channel == "whatsapp" else {}
        answer = requests.put(f"{api}/admin/advertisers/{DEMO_ADVERTISER}/links/{channel}/{account}", json=body, timeout=10)
        linked.append(answer.status_code == 200)
    print(f"  linked      {', '.join(DEMO_LINKS)} accounts to ad account {DEMO_ADVERTISER}\n")
    outcome["linked"] = all(linked) and len(advertisers) == 2
    return outcome


def set_keywords(ports: StackPorts, scenario: DemoScenario) -> bool:
    answer = requests.put(
        f"http://{HOST}:{ports.api}/admin/advertisers/{DEMO_ADVERTISER}/keywords",
        json={"keywords": scenario.keywords},
        timeout=10,
    )
    languages = "English, Chinese, Thai, Vietnamese, Russian, Arabic, Spanish"
    version = answer.json().get("version")
    print(
        f"Keyword list for ad account {DEMO_ADVERTISER}: {len(scenario.keywords)} keywords in {languages} (version {version})\n"
    )
    return answer.status_code == 200


def signals_report(ports: StackPorts, scenario: DemoScenario, items: list[dict[str, Any]]) -> int:
    """Signals per conversation, an outcome posted twice, and everything that left for TikTok scanned for private data."""
    api, tiktok = f"http://{HOST}:{ports.api}", f"http://{HOST}:{ports.tiktok}"
    dev = f"whatsapp#{DEMO_PHONE_NUMBER_ID}#919800000004"
    outcome = {"outcome_id": "order-1001", "event": "Purchase", "value": 129.9, "currency": "EUR"}
    path = f"{api}/admin/conversations/{dev.replace('#', '%23')}/outcomes"
    first, again = requests.post(path, json=outcome, timeout=10), requests.post(path, json={**outcome, "value": 1}, timeout=10)
    wait_until_drained(ports)
    sent: dict[str, dict[str, Any]] = {}
    for key in sorted({*scenario.signals, dev}):
        answer = requests.get(f"{api}/admin/conversations/{key.replace('#', '%23')}", timeout=10).json()
        sent[key] = {record["signal"]: record for record in answer.get("signals", [])}
    track = [c for c in requests.get(f"{tiktok}/_emulator/calls", timeout=10).json()["calls"] if c["path"] == "/event/track/"]
    accepted = requests.get(f"{tiktok}/_emulator/events", timeout=10).json()["events"]
    wire = json.dumps([call["body"] for call in track], ensure_ascii=False)
    customers = {key.rsplit("#", 1)[1] for key in (*scenario.conversations, *scenario.events)}
    leaked = [value for value in (*scenario.private, *customers) if value and value in wire]

    print("\nSignals to TikTok (Events API 2.0, to the ad account's message event set; never message text)")
    print(f"  {'conversation':<30}signals")
    for key, records in sent.items():
        shown = ", ".join(f"{name} -> {r['event']} ({r['status']})" for name, r in sorted(records.items()))
        channel, customer = key.split("#", 1)[0], key.rsplit("#", 1)[1]
        print(f"  {channel + ' ' + customer:<30}{shown}")
    events_sent = sum(len(call["body"]["data"]) for call in track)
    print(
        f"  {len(track)} Events API requests carried {events_sent} events ({events_sent / max(len(track), 1):.1f} per request);"
    )
    print(f"  TikTok kept {len(accepted)} (it drops a repeat of the same event set, event_id and event)")

    fired = {key: frozenset(name for name in records if not name.startswith("outcome:")) for key, records in sent.items()}
    statuses = [r["status"] for records in sent.values() for r in records.values()]
    checks = [
        (
            "keywords fired exactly the expected signals in seven languages",
            {k: v for k, v in fired.items() if v or k in scenario.signals} == scenario.signals,
        ),
        (
            "each TikTok conversation (DM ad, tracking ID, tiktok.me link) sent its conversation signal",
            all("conversation" in fired[k] for k, v in scenario.signals.items() if "conversation" in v),
        ),
        (
            "every signal sent once, the duplicate delivery added none",
            statuses.count("sent") == len(statuses) == events_sent == len(accepted),
        ),
        (
            "the outcome was sent once; posting it again answered with the first",
            (first.status_code, again.status_code) == (202, 200)
            and [again.json()[k] for k in ("event_id", "event", "value")]
            == [first.json()[k] for k in ("event_id", "event", "value")]
            and sent[dev].get("outcome:order-1001", {}).get("status") == "sent",
        ),
        ("no request to TikTok carried message text or a raw customer identifier", not leaked),
    ]
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return (0 if all(ok for _, ok in checks) else 1) | signal_costs(ports, scenario, len(statuses))


def signal_requests(ports: StackPorts) -> Counter[str]:
    """KeywordSignalFunction's DynamoDB requests so far, by operation."""
    rows = stack_status(ports)["aws_requests"]
    return Counter({r["operation"]: r["count"] for r in rows if (r["function"], r["service"]) == (SIGNALS, "dynamodb")})


def deliver(ports: StackPorts, deliveries: list[Delivery]) -> Counter[str]:
    """Posts the deliveries, waits for the queues, and answers the DynamoDB requests they cost KeywordSignalFunction."""
    before = signal_requests(ports)
    for delivery in deliveries:
        url = f"http://{HOST}:{ports.api}/webhooks/{delivery.channel}"
        requests.post(url, data=delivery.body, headers=delivery.headers, timeout=30).raise_for_status()
    wait_until_drained(ports)
    return signal_requests(ports) - before


def signal_costs(ports: StackPorts, scenario: DemoScenario, recorded: int) -> int:
    """What signals cost in DynamoDB: the run so far, then messages that match nothing and one that repeats a keyword."""
    so_far = signal_requests(ports)
    track = f"http://{HOST}:{ports.tiktok}/_emulator/calls"
    sent_before = sum(1 for c in requests.get(track, timeout=10).json()["calls"] if c["path"] == "/event/track/")
    quiet = deliver(ports, scenario.quiet_follow_ups)
    repeat = deliver(ports, [scenario.repeat_follow_up])
    sent_after = sum(1 for c in requests.get(track, timeout=10).json()["calls"] if c["path"] == "/event/track/")

    def shown(requests_by_operation: Counter[str]) -> str:
        return ", ".join(f"{n} {operation}" for operation, n in sorted(requests_by_operation.items())) or "none"

    print(f"\nDynamoDB requests in {SIGNALS}")
    thanks = f"{len(scenario.quiet_follow_ups)} thank-you messages"
    print(f"  {'the run above':<25}{shown(so_far)}; {recorded} signals recorded")
    print(f"  {thanks:<25}{shown(quiet)} (list and routes cached, nothing matched)")
    print(f"  {'Minh asks price again':<25}{shown(repeat)} (one read of his signals; price already sent, nothing written)")
    checks = [
        ("each recorded signal cost one conditional write (UpdateItem)", so_far["UpdateItem"] == recorded),
        ("messages that match nothing cost no DynamoDB request", not quiet),
        (
            "a keyword already signalled costs one read and sends nothing",
            repeat == Counter({"GetItem": 1}) and sent_after == sent_before,
        ),
    ]
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for _, ok in checks) else 1


def recount_bucket(conversation: dict[str, Any]) -> str:
    """The Reports sort key a stored conversation should count under, worked out again from the raw item.

    A second, independent statement of domain/leads.py on purpose: the "counters match a
    recount" check compares two implementations, so a bug in the rule cannot hide by
    agreeing with itself.
    """
    source, ad = conversation["source"]["S"], conversation.get("ad", {}).get("M", {})
    if source == "tiktok_ad":
        return f"AD#{ad['ad_id']['S']}" if "ad_id" in ad else "AD#UNRESOLVED"
    return {"meta_ad": "META_AD", "tiktok_short_link": "SHORT_LINK"}.get(source, "ORGANIC")


def ad_report(items: list[dict[str, Any]], counters: list[dict[str, Any]], ports: StackPorts) -> int:
    """Ad flow vs organic per ad, with the card each conversation got, and the counters against a recount."""
    conversations = [i for i in items if i["sk"]["S"] == "META" and "advertiser_id" in i]
    print(f"\nAd flow vs organic for ad account {DEMO_ADVERTISER} (leads from Reports, counted at attribution)")
    leads: Counter[str] = Counter()
    for counter in counters:
        leads[counter["sk"]["S"]] += int(counter["leads"]["N"])
    cards: dict[str, dict[str, Any]] = {}
    for conversation in conversations:
        cards.setdefault(recount_bucket(conversation), conversation.get("ad", {}).get("M", {}))
    print(f"  {'bucket':<22}{'leads':>6}  card")
    for bucket in sorted(leads, key=lambda b: (not b.startswith("AD#"), b)):
        card = {key: value.get("S") for key, value in cards.get(bucket, {}).items()}
        if card.get("unresolved_reason"):
            label = f"{card.get('ad_name') or 'ad not identified'}: {card['unresolved_reason']}"
        elif card.get("resolved_by"):
            label = f"{card.get('ad_name')} / {card.get('campaign_name')} ({card['resolved_by']})"
        else:
            label = {
                "ORGANIC": "organic",
                "META_AD": "Meta's own ads (never credited to TikTok)",
                "SHORT_LINK": "tiktok.me link",
            }.get(bucket, "")
        print(f"  {bucket:<22}{leads[bucket]:>6}  {label[:110]}")
    recount = Counter(recount_bucket(c) for c in conversations)
    smart = cards.get("AD#1800000000000009", {})
    checks = [
        ("lead counters match a recount of the conversations", recount == leads),
        ("the Smart+ conversation has a resolved card", smart.get("resolved_by", {}).get("S") == "smart_plus_ad_get"),
        (
            "the tracking ID resolved to the WhatsApp ad",
            cards.get("AD#1790000000000003", {}).get("ad_name", {}).get("S") == "Sneakers on WhatsApp",
        ),
        (
            "the unknown ad's card says why",
            "TikTok has no ad" in cards.get("AD#1799999999999999", {}).get("unresolved_reason", {}).get("S", ""),
        ),
    ]
    for text_, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text_}")
    return 0 if all(ok for _, ok in checks) else 1


def keep_tokens_alive(ports: StackPorts) -> int:
    """The hourly refresher on a moved clock: rotation a day later, re-authorization a year later."""
    api, tiktok = f"http://{HOST}:{ports.api}", f"http://{HOST}:{ports.tiktok}"

    def fire(ahead: timedelta) -> dict[str, Any]:
        at = (datetime.now(UTC) + ahead).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = requests.post(f"{api}/_local/schedules/TokenRefreshFunction/Hourly", params={"time": at}, timeout=60)
        return dict(answer.json()["result"])

    print("\nKeeping TikTok Business Account tokens alive (hourly schedule, clock moved forward)")
    soon, day = fire(timedelta(hours=1)), fire(timedelta(hours=23))
    print(f"  +1 h      due {soon['due']}: nothing to refresh yet")
    print(f"  +23 h     due {day['due']}: refreshed {len(day['refreshed'])}, refresh token rotated")
    requests.post(f"{tiktok}/_emulator/clock", json={"offset_seconds": 367 * 86400}, timeout=5)
    try:
        year = fire(timedelta(days=367))
    finally:
        requests.post(f"{tiktok}/_emulator/clock", json={"offset_seconds": 0}, timeout=5)
    reauth = len(year["needs_reauth"])
    print(f"  +367 d    due {year['due']}: refresh token past its year -> {reauth} NEEDS_REAUTH (event on the bus)")
    checks = [
        ("nothing refreshed an hour later", soon["refreshed"] == []),
        ("the business token rotated a day later", day["refreshed"] == [DEMO_TIKTOK_BUSINESS_ID]),
        ("a year later the account needs re-authorization", year["needs_reauth"] == [DEMO_TIKTOK_BUSINESS_ID]),
    ]
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for _, ok in checks) else 1


def rollup_report(ports: StackPorts, items: list[dict[str, Any]], reports_table: str) -> int:
    """The hourly rollup (twice, TikTok throttling the first call), the per-ad report, its CSV and page, checked."""
    api, tiktok = f"http://{HOST}:{ports.api}", f"http://{HOST}:{ports.tiktok}"
    throttle = {"code": 40100, "times": 2, "path": "/report/integrated/get/", "advertiser_id": DEMO_ADVERTISER}
    requests.post(f"{tiktok}/_emulator/faults", json=throttle, timeout=5).raise_for_status()

    def fire() -> list[dict[str, Any]]:
        queued = requests.post(f"{api}/_local/schedules/ReportRollupFunction/Hourly", timeout=60).json()["result"]["queued"]
        wait_until_drained(ports)
        print(f"  hourly rollup: {queued} ad accounts queued, rolled up from RollupQueue")
        return sorted(conversation_items(ports, reports_table), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))

    print("\nReport rollups: TikTok's spend beside our leads (hourly schedule, today and yesterday in the ad account's zone)")
    first, second = fire(), fire()
    report_calls = [c for c in requests.get(f"{tiktok}/_emulator/calls", timeout=10).json()["calls"] if "report/" in c["path"]]
    query = {"advertiser_id": DEMO_ADVERTISER, "group_by": "ad"}
    by_ad = requests.get(f"{api}/admin/reports", params=query, timeout=10).json()
    by_day = requests.get(f"{api}/admin/reports", params={**query, "group_by": "day"}, timeout=10).json()
    csv_text = requests.get(f"{api}/admin/reports", params={**query, "format": "csv"}, timeout=10).text
    view = requests.get(f"{api}/admin/reports/view", params={"advertiser_id": DEMO_ADVERTISER}, timeout=10)
    csv_path, page_path = RUN_DIR / f"report-{DEMO_ADVERTISER}-by-ad.csv", RUN_DIR / f"report-{DEMO_ADVERTISER}.html"
    csv_path.write_text(csv_text)
    page_path.write_text(view.text)

    currency = by_ad["currency"] or "currency unknown"
    print(f"  {'ad (campaign)':<44}{'spend':>10}{'leads':>7}{'per lead':>10}{'TikTok':>8}{'ours':>6}")
    for row in by_ad["rows"]:
        campaign = f" ({row['campaign_name']})" if row.get("campaign_name") else ""
        name = f"{row.get('ad_name') or 'ad ' + row['ad_id']}{campaign}" if row["ad_id"] else row["kind"]
        leads = row["ad_flow_leads"] + row["organic_flow_leads"]
        per_lead = f"{Decimal(row['cost_per_lead']):.2f}" if row["cost_per_lead"] else "n/a"
        ours = row["ad_leads"] if row["ad_id"] else ""
        line = f"  {name[:43]:<44}{Decimal(row['spend']):>10.2f}{leads:>7}{per_lead:>10}{row['tiktok_conversations']:>8}{ours:>6}"
        print(line.rstrip())
    totals = by_ad["totals"]
    all_leads = totals["ad_flow_leads"] + totals["organic_flow_leads"]
    per_lead_all = f"{Decimal(totals['cost_per_lead']):.2f}" if totals["cost_per_lead"] else "n/a"
    print(
        f"  {'all (' + currency + ')':<44}{Decimal(totals['spend']):>10.2f}{all_leads:>7}{per_lead_all:>10}"
        f"{totals['tiktok_conversations']:>8}{totals['ad_leads']:>6}"
    )
    print(
        f"  TikTok counted {totals['tiktok_conversations']} conversations, we counted {totals['ad_leads']} TikTok-ad leads "
        "(the emulator's numbers are made up; in an ad account the difference is the attribution gap)"
    )
    print(f"  CSV   {csv_path}\n  page  {page_path}")
    drawn = screenshot_report(view.url, RUN_DIR / f"report-{DEMO_ADVERTISER}.png")

    conversations = [i for i in items if i["sk"]["S"] == "META" and i.get("advertiser_id", {}).get("S") == DEMO_ADVERTISER]
    recount = Counter(recount_bucket(c) for c in conversations)
    counted = {row["ad_id"]: row["leads_tiktok_ad"] for row in by_ad["rows"] if row["ad_id"]}
    other_buckets = {
        "AD#UNRESOLVED": "leads_tiktok_ad_unresolved",
        "META_AD": "leads_meta_ad",
        "SHORT_LINK": "leads_short_link",
        "ORGANIC": "leads_organic",
    }
    recounted = {bucket.removeprefix("AD#"): n for bucket, n in recount.items() if bucket not in other_buckets}
    throttled = [c for c in report_calls if c.get("code") == 40100]
    checks = [
        ("the rollup run twice left identical Reports items", first == second and any("spend" in i for i in first)),
        (
            "the lead columns equal a recount of the conversations",
            {a: n for a, n in counted.items() if n} == recounted
            and all(totals[column] == recount[bucket] for bucket, column in other_buckets.items()),
        ),
        ("derived metrics follow the formulas, null on a zero denominator", not formula_problems(by_ad["rows"] + by_day["rows"])),
        ("the CSV and the JSON report agree", not csv_problems(csv_text, by_ad)),
        ("TikTok throttled twice (40100); the call was tried again and rolled up", len(throttled) == 2),
        ("the page is one self-contained document", view.ok and "<script" not in view.text and "<svg" in view.text),
    ]
    if drawn is not None:
        checks.append(("the page renders in headless Chromium with bars matching the JSON", not bar_problems(drawn, by_day)))
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for _, ok in checks) else 1


def screenshot_report(url: str, path: Any) -> list[dict[str, Any]] | None:
    """Opens the page in headless Chromium, saves a screenshot and answers the bars as drawn; None without Chromium."""
    from .browser import HeadlessChromium, find_chromium

    if find_chromium() is None:
        print("  screenshot skipped: no Chromium here (apt-get install chromium); the tests check the page in one")
        return None
    with HeadlessChromium() as browser:
        browser.open(url)
        drawn = browser.evaluate(BARS_AS_DRAWN)
        browser.screenshot(path)
    print(f"  shot  {path} (headless Chromium)")
    return list(drawn)


def permissions_report(ports: StackPorts) -> int:
    """Every AWS call a handler made in the demo, against its function's policies in template.yaml (moto allows all)."""
    from .permissions import denied, requested
    from .template import Template

    status = stack_status(ports)
    refused = denied(status["aws_touched"], status["resource_attributes"], Template())
    used = requested(status["aws_touched"], status["resource_attributes"])
    print(f"\nPermissions: {len(used)} distinct (function, action, resource) uses checked against template.yaml")
    for line in refused:
        print(f"  denied in AWS: {line}")
    ok = not refused
    print(f"  {'ok  ' if ok else 'FAIL'} every AWS call a handler made is allowed by its function's policies")
    return 0 if ok else 1


def replay(ports: StackPorts, scenario: DemoScenario) -> list[Answer]:
    answers = []
    for index, delivery in enumerate(scenario.deliveries, start=1):
        url = f"http://{HOST}:{ports.api}/webhooks/{delivery.channel}"
        response = requests.post(url, data=delivery.body, headers=delivery.headers, timeout=30)
        answers.append((delivery.channel, delivery.label, response.status_code, response.json()))
        progress(index, len(scenario.deliveries), f"{delivery.label} -> {response.status_code}")
    return answers


def report(
    scenario: DemoScenario,
    answers: list[Answer],
    status: dict[str, Any],
    items: list[dict[str, Any]],
    connections: dict[str, bool],
) -> int:
    conversations = {i["pk"]["S"].removeprefix("CONV#"): i for i in items if i["sk"]["S"] == "META"}
    markers = [i for i in items if i["sk"]["S"].startswith("MSG#") and i["kind"]["S"] != "stripped"]
    kept_events: dict[str, tuple[str, ...]] = {}
    for item in sorted((i for i in items if i["sk"]["S"].startswith("EVT#")), key=lambda i: int(i["sent_at_ms"]["N"])):
        key = item["pk"]["S"].removeprefix("CONV#")
        kept_events[key] = (*kept_events.get(key, ()), item["kind"]["S"])
    event_kinds = Counter(kind for kinds in kept_events.values() for kind in kinds)
    stripped = sum(int(i["stripped_count"]["N"]) for i in items if i["sk"]["S"].startswith("STRIPPED#"))
    stored = {key: (c["source"]["S"], int(c["customer_message_count"]["N"])) for key, c in conversations.items()}
    attribution = status["pumps"]["AttributionFunction"]
    delivered = status["pumps"]["KeywordSignalFunction"]["record_types"]
    distinct = status["pumps"]["KeywordSignalFunction"]["distinct_events"]
    enqueued = sum(body.get("accepted", 0) for _, _, code, body in answers if code == 200)
    fifo_dropped = enqueued - attribution["records"]
    skipped = {kind: n for kind, n in attribution["record_types"].items() if kind not in ("message", "referral")}
    ping = next(body for _, label, _, body in answers if "tiktok.ping" in label)
    received_ms = [int(conversations[k]["started_at_ms"]["N"]) for k in scenario.redated_keys if k in conversations]
    # moto drops a FIFO duplicate only while the original is still queued (AWS: for 5 minutes), so a
    # duplicate can reach attribution, where the message marker stores it once.
    marker_dropped = attribution["records"] - len(markers) - sum(skipped.values())

    print("By platform")
    print(f"  {'platform':<11}{'deliveries':>11}{'accepted':>10}{'refused':>9}{'conversations':>15}  sources")
    for channel in ("whatsapp", "messenger", "instagram", "tiktok"):
        sent = [a for a in answers if a[0] == channel]
        mine = {k: v for k, v in stored.items() if k.startswith(channel + "#")}
        sources = Counter(source for source, _ in mine.values())
        print(
            f"  {channel:<11}{len(sent):>11}{sum(a[2] == 200 for a in sent):>10}{sum(a[2] == 401 for a in sent):>9}"
            f"{len(mine):>15}  {', '.join(f'{n} {s}' for s, n in sorted(sources.items()))}"
        )

    print("\nWhat happened")
    rows = [
        (
            "Inbound events",
            f"{enqueued} enqueued; duplicates: {fifo_dropped} dropped by FIFO dedup, {marker_dropped} by the message marker",
        ),
        ("Stored once each", f"{len(markers)} customer messages and ad/link clicks, in {len(conversations)} conversations"),
        ("Kept apart from messages", ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items())) or "none"),
        (
            "Conversation events",
            f"{', '.join(f'{n} {k}' for k, n in sorted(event_kinds.items()))} kept in {len(kept_events)} conversations;"
            " none opened a conversation or counted a lead",
        ),
        ("Dated by receipt", f"{len(received_ms)} message whose platform time read as 1970"),
        ("EEA-stripped, per business", f"{stripped} counted for the TikTok business account, attributed to no one"),
        (
            "Events on SignalQueue",
            f"{distinct.get('ConversationAttributed', 0)} ConversationAttributed (via the bus), "
            f"{distinct.get('MessageReceived', 0)} MessageReceived (direct); "
            f"{sum(delivered.values()) - sum(distinct.values())} repeats with the same event_id",
        ),
        ("Dead-letter queues", ", ".join(f"{q}: {d['visible']}" for q, d in status["queues"].items() if "DLQ" in q)),
        ("Parked payloads", "; ".join(f"{p['channel']}: {p['reason']}" for p in status["parked"]) or "none"),
    ]
    for name, text in rows:
        print(f"  {name:<30}{text}")

    events = attribution["records"]
    print(f"\nAWS requests per inbound event ({events} events; handlers only, not Lambda's queue polling)")
    by_function: dict[tuple[str, str], Counter[str]] = {}
    for row in status["aws_requests"]:
        if row["function"] in PIPELINE:
            by_function.setdefault((row["service"], row["operation"]), Counter())[row["function"]] += row["count"]
    by_operation = Counter({operation: sum(counts.values()) for operation, counts in by_function.items()})
    columns = ["webhook", "attribution", "signals"]  # the PIPELINE functions, in order
    print(f"  {'service':<16}{'operation':<20}{''.join(f'{c:>13}' for c in columns)}{'per event':>11}")
    for (service, operation), counts in sorted(by_function.items()):
        cells = "".join(f"{counts[name] or '':>13}" for name in PIPELINE)
        print(f"  {service:<16}{operation:<20}{cells}{by_operation[(service, operation)] / max(events, 1):>11.2f}")
    totals = "".join(f"{sum(c[name] for c in by_function.values()):>13}" for name in PIPELINE)
    total = sum(by_operation.values())
    print(f"  {'total':<36}{totals}{total / max(events, 1):>11.2f}")
    cost = price_per_million_messages(by_operation, events)
    print(f"  ~ ${cost:.2f} of AWS requests per million inbound events at us-east-1 list prices (local/pricing.py)")

    customer_messages = sum(count for _, count in scenario.conversations.values())
    repeats = sum(1 for i, d in enumerate(scenario.deliveries) if d.body in {e.body for e in scenario.deliveries[:i]})
    checks = [
        ("advertiser and business accounts connected, chats linked", all(connections.values())),
        (
            "every delivery answered as expected (200, or 401 when forged or stale)",
            [a[2] for a in answers] == [d.expected_status for d in scenario.deliveries],
        ),
        ("every conversation stored once, with its source and message count", stored == scenario.conversations),
        ("refused deliveries left nothing behind", not any(key in stored for key in scenario.refused_keys)),
        ("duplicate deliveries stored once (FIFO dedup or the message marker)", fifo_dropped + marker_dropped == repeats),
        (
            "echoes, reads, the EEA-stripped event and conversation events kept apart from customer messages",
            skipped == {"echo": 2, "read": 1, "stripped": 1, "reaction": 2, "edit": 1, "deletion": 1},
        ),
        ("reactions, the edit and the unsent message kept in their conversations", kept_events == scenario.events),
        ("the reaction from someone with no conversation opened none", f"tiktok#{DEMO_TIKTOK_BUSINESS_ID}#tt-zoe" not in stored),
        ("TikTok's URL check answered 200, nothing kept or parked", ping == {"accepted": 0, "parked": 0}),
        (
            "Omar, named by phone and BSUID and then by phone alone, has one conversation",
            stored.get(f"whatsapp#{DEMO_PHONE_NUMBER_ID}#EG.2015550198765432") == ("organic", 2)
            and f"whatsapp#{DEMO_PHONE_NUMBER_ID}#201005550006" not in stored,
        ),
        (
            "a time that read as 1970 was replaced by the receipt time",
            len(received_ms) == len(scenario.redated_keys) and all(m > time.time() * 1000 - 86_400_000 for m in received_ms),
        ),
        ("the EEA-stripped event counted once for its business account", stripped == 1),
        ("one distinct ConversationAttributed per conversation", distinct.get("ConversationAttributed", 0) == len(conversations)),
        ("one distinct MessageReceived per customer message", distinct.get("MessageReceived", 0) == customer_messages),
        ("dead-letter queues empty", all(d["visible"] == 0 for q, d in status["queues"].items() if "DLQ" in q)),
        (
            "parked: only the change nobody knows, with its reason",
            tuple(p["reason"] for p in status["parked"]) == scenario.parked,
        ),
    ]
    print("\nChecks")
    for text, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for _, ok in checks) else 1
