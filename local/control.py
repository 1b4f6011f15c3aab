"""Run a local stack in a child process and query it over HTTP: used by the demo, e2e tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests

from .stack import HOST, RUN_DIR, StackPorts

STARTUP_TIMEOUT_SECONDS = 90
DRAIN_TIMEOUT_SECONDS = 60


@contextmanager
def running_stack(log_name: str = "stack.log", settings: Mapping[str, str] | None = None) -> Iterator[StackPorts]:
    """The local stack in a child process (its handler logs go to .local/stack.log); `settings`: environment overrides."""
    ports = StackPorts.choose()
    RUN_DIR.mkdir(exist_ok=True)
    env = {
        **os.environ,
        **(settings or {}),
        "LOCAL_API_PORT": str(ports.api),
        "LOCAL_TIKTOK_PORT": str(ports.tiktok),
        "LOCAL_AWS_PORT": str(ports.aws),
        # Two stacks started at once may pick the same free port; the id tells ours from the one that won it.
        "LOCAL_STACK_ID": uuid.uuid4().hex,
    }
    with (RUN_DIR / log_name).open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "local", "up"], stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for_stack(ports, child, env["LOCAL_STACK_ID"])
            yield ports
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def wait_for_stack(ports: StackPorts, child: subprocess.Popen[bytes], stack_id: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"The local stack exited with {child.returncode}; see {RUN_DIR / 'stack.log'}")
        try:
            answer = requests.get(f"http://{HOST}:{ports.api}/_local/status", timeout=2)
            if answer.ok and answer.json().get("stack_id") == stack_id:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"The local stack did not start within {STARTUP_TIMEOUT_SECONDS} s; see {RUN_DIR / 'stack.log'}")


def stack_status(ports: StackPorts) -> dict[str, Any]:
    response = requests.get(f"http://{HOST}:{ports.api}/_local/status", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def wait_until_drained(ports: StackPorts, timeout: float = DRAIN_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Drained twice in a row: the bus delivers to SignalQueue after attribution finishes."""
    deadline = time.monotonic() + timeout
    calm = 0
    while time.monotonic() < deadline:
        status = stack_status(ports)
        calm = calm + 1 if status["drained"] else 0
        if calm >= 3:
            return status
        time.sleep(0.2)
    raise SystemExit(f"Queues did not drain within {timeout} s: {stack_status(ports)['queues']}")


@contextmanager
def pointed_at_stack(ports: StackPorts) -> Iterator[None]:
    """The package's AWS clients talk to the stack's moto inside, and to whatever they talked to before after."""
    from messaging_partner.adapters.aws import clients

    from .stack import aws_environment

    saved = dict(os.environ)
    os.environ.update(aws_environment(ports.aws))
    clients.client.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        clients.client.cache_clear()


def connect_link(api: str, kind: str, workspace: str) -> str:
    """What the operator's app does when a person clicks Connect: ask the admin API for a signed link."""
    answer = requests.post(f"{api}/admin/connect-links", json={"kind": kind, "workspace": workspace}, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["url"])


def connect_in_browser(api: str, kind: str, workspace: str, link: str | None = None) -> requests.Response:
    """The person's browser: the connect link, TikTok's consent (the emulator), the callback with the start's cookie.

    Returns the last page, its history holding the redirects. requests keeps a Secure cookie for https only and the
    local stack speaks http, so the cookie is carried by hand, as a browser does for 127.0.0.1.
    """
    start = requests.get(link or connect_link(api, kind, workspace), allow_redirects=False, timeout=30)
    if start.status_code != 302:
        return start
    consent = requests.get(start.headers["location"], allow_redirects=False, timeout=30)
    if consent.status_code != 302:
        return consent
    cookie = start.headers["set-cookie"].split(";", 1)[0]
    page = requests.get(consent.headers["location"], headers={"Cookie": cookie}, timeout=30)
    page.history = [start, consent]
    return page


def connect_ad_accounts(ports: StackPorts, count: int) -> list[str]:
    """The emulator's bench ad accounts (POST /_emulator/advertisers), stored in AccountLinks as the OAuth callback
    stores them: time zone and currency from /advertiser/info/, token encrypted with the stack's KMS key."""
    from messaging_partner.adapters.aws.account_links import DynamoAccountStore
    from messaging_partner.adapters.aws.kms import KmsTokenCipher
    from messaging_partner.adapters.tiktok_api.auth import advertiser_profiles
    from messaging_partner.adapters.tiktok_api.client import TikTokClient
    from messaging_partner.domain.models import AdvertiserAccount, AdvertiserProfile
    from messaging_partner.domain.tokens import token_context

    from .tiktok_emulator import API_PREFIX, BENCH_TOKEN

    tiktok = f"http://{HOST}:{ports.tiktok}"
    answer = requests.post(f"{tiktok}/_emulator/advertisers", json={"count": count, "token": BENCH_TOKEN}, timeout=60)
    answer.raise_for_status()
    advertiser_ids: list[str] = answer.json()["advertiser_ids"]
    profiles = advertiser_profiles(TikTokClient(f"{tiktok}{API_PREFIX}/"), advertiser_ids, BENCH_TOKEN)
    with pointed_at_stack(ports):
        resources = stack_status(ports)["resources"]
        store, cipher = DynamoAccountStore(resources["AccountLinksTable"]), KmsTokenCipher(resources["TokenKey"])
        now_ms = int(time.time() * 1000)
        for advertiser_id in advertiser_ids:
            profile = profiles.get(advertiser_id, AdvertiserProfile())
            store.save_advertiser(
                AdvertiserAccount(
                    advertiser_id=advertiser_id,
                    name=f"Bench advertiser {advertiser_id[-4:]}",
                    workspace="bench",
                    token_ciphertext=cipher.encrypt(BENCH_TOKEN, token_context("advertiser", advertiser_id)),
                    timezone=profile.timezone,
                    currency=profile.currency,
                    connected_at_ms=now_ms,
                )
            )
    return advertiser_ids
