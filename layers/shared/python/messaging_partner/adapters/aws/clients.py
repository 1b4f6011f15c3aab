"""boto3 clients, one per service per process, reused across invocations.

Locally and in tests ``AWS_ENDPOINT_URL`` points every client at moto; in Lambda it is unset.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)
