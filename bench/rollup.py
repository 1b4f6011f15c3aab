"""Report rollups at scale, through the local stack: 1,000 ad accounts, one hourly run, against TikTok's QPS floor.

The emulator holds the ad accounts (two ads each, time zones around the world) and enforces
the Basic tier on /report/integrated/get/ (more than 10 calls in any second answer 40100),
so pacing that is off shows as throttled answers. The ad accounts are stored in AccountLinks
as the OAuth callback stores them (local/control.py connect_ad_accounts). The floor is what the
app's QPS share allows: accounts / (tier x share) seconds for one call each.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TextIO

import requests


def bench_rollup(report: TextIO, accounts: int = int(os.environ.get("BENCH_ROLLUP_ACCOUNTS", "1000"))) -> None:
    from local.control import connect_ad_accounts, running_stack, stack_status, wait_until_drained
    from local.template import Template
    from messaging_partner.domain.rollups import ROLLUP_QPS_SHARE

    parameters = Template().parameter_defaults()
    tier, concurrency = int(parameters["TikTokQpsTier"]), int(parameters["RollupMaxConcurrency"])
    with running_stack("bench-rollup-stack.log") as ports:
        api, tiktok = f"http://127.0.0.1:{ports.api}", f"http://127.0.0.1:{ports.tiktok}"
        advertiser_ids = connect_ad_accounts(ports, accounts)
        started = time.monotonic()
        queued = requests.post(f"{api}/_local/schedules/ReportRollupFunction/Hourly", timeout=300).json()["result"]
        fanned_out = time.monotonic() - started
        wait_until_drained(ports, timeout=max(600.0, accounts * 1.5))
        elapsed = time.monotonic() - started
        status = stack_status(ports)
        calls = requests.get(f"{tiktok}/_emulator/calls", timeout=60).json()["calls"]
    reports = [c for c in calls if c["path"] == "/report/integrated/get/"]
    answered = Counter(c.get("code", 0) for c in reports)
    per_account = Counter(c["query"].get("advertiser_id") for c in reports)
    rollups = status["pumps"]["ReportRollupFunction"]
    aws: Counter[str] = Counter()
    for row in status["aws_requests"]:
        if row["function"] == "ReportRollupFunction":
            aws[f"{row['service']} {row['operation']}"] += row["count"]
    floor = accounts / (tier * ROLLUP_QPS_SHARE)
    print(f"\nReport rollups through the local stack: {accounts} ad accounts, one hourly run", file=report)
    print(f"  TikTok QPS tier {tier}, rollup share {ROLLUP_QPS_SHARE:.0%}, maximum concurrency {concurrency}", file=report)
    print(f"  queued                          {queued['queued']} requests in {fanned_out:.1f} s", file=report)
    print(
        f"  rolled up in                    {elapsed:.1f} s   (floor {floor:.1f} s at the QPS share; "
        f"ratio {elapsed / floor:.2f})",
        file=report,
    )
    print(
        f"  report calls per ad account     {len(reports) / accounts:.2f}   "
        f"(min {min(per_account.values(), default=0)}, max {max(per_account.values(), default=0)})",
        file=report,
    )
    print(f"  throttled answers (40100)       {answered.get(40100, 0)}   (the emulator enforces {tier} QPS)", file=report)
    print(f"  records failed and retried      {rollups['failed_records']}", file=report)
    requests_made = sum(aws.values())
    print(
        f"  AWS requests per ad account     {requests_made / accounts:.2f}   "
        + ", ".join(f"{name} {n / accounts:.2f}" for name, n in sorted(aws.items())),
        file=report,
    )
    print(
        f"  the local stack served          {requests_made / elapsed:.0f} AWS requests/s (moto, DynamoDB one at a time): "
        f"{accounts / elapsed * 3600:,.0f} ad accounts/hour here",
        file=report,
    )
    print(
        f"  at the QPS floor                {3600 / floor * accounts:,.0f} ad accounts/hour (goal 10,000 at the default tier)",
        file=report,
    )
    missing = set(advertiser_ids) - set(per_account)
    if missing:
        print(f"  NOT ROLLED UP: {len(missing)} ad accounts, e.g. {sorted(missing)[:3]}", file=report)
