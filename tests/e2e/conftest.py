"""One local stack (child process, its own free ports when the defaults are taken) for all e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from local.control import running_stack, stack_status, wait_until_drained
from local.stack import HOST, StackPorts, local_aws_client


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
