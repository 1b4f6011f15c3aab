"""One local stack (child process, its own free ports when the defaults are taken) for all e2e tests; a headless browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from local.browser import HeadlessChromium, find_chromium
from local.control import running_stack, stack_status, wait_until_drained
from local.stack import HOST, StackPorts, local_aws_client

# Lines a test module wants under pytest's summary (figures it measured), printed whatever the output capture.
summary_lines: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in summary_lines:
        terminalreporter.write_line(line)


@dataclass
class RunningStack:
    ports: StackPorts

    @property
    def api(self) -> str:
        return f"http://{HOST}:{self.ports.api}"

    @property
    def tiktok(self) -> str:
        return f"http://{HOST}:{self.ports.tiktok}"

    def status(self) -> dict[str, Any]:
        return stack_status(self.ports)

    def drained(self) -> dict[str, Any]:
        return wait_until_drained(self.ports)

    def aws(self, service: str) -> Any:
        return local_aws_client(service, self.ports.aws)

    def conversation(self, key: str) -> requests.Response:
        return requests.get(f"{self.api}/admin/conversations/{key.replace('#', '%23')}", timeout=10)

    def signal_inputs(self) -> dict[str, int]:
        return dict(self.status()["pumps"]["KeywordSignalFunction"]["record_types"])


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    # The tests link accounts and replace keyword lists one after another in one stack: a second's memory
    # of routes and lists keeps each test's configuration its own (deployments default to a minute).
    with running_stack("e2e-stack.log", {"CONFIG_CACHE_SECONDS": "1"}) as ports:
        yield RunningStack(ports)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium to drive. Missing, it fails the tests in CI (which installs one) and skips them elsewhere."""
    found = find_chromium()
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is missing: .ci/run should have installed it (apt-get install chromium)", pytrace=False)
    pytest.skip("Chromium is missing: apt-get install chromium (or set $CHROMIUM) to run the browser tests")


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[HeadlessChromium]:
    """One headless browser per test module: starting one takes a second or two, and open() starts each page afresh."""
    with HeadlessChromium(chromium) as running:
        yield running
