"""Test environment: fake AWS credentials and powertools settings, set before any handler import."""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_SERVICE_NAME": "messaging-partner-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "MessagingPartnerTests",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
