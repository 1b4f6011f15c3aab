"""Schemathesis sends the admin API what openapi.json allows and what it forbids, over HTTP, signed as AWS asks.

Every answer must be a 2xx or a 4xx the document lists, never a 5xx, and every 4xx a JSON body
whose message a person can read (a sentence, not a stack trace or the input sent back).
Negative cases (a value the document forbids) must be refused. The explicit examples in the
document name the ad account, chat account, Business Account and conversation seeded below,
so the examples and coverage phases reach real items, not only 404s.

Named test_zy_ so it runs after the other end-to-end tests: it links, unlinks and replaces
keyword lists of the demo ad account. Its runs are derandomized, so CI sees the same cases
every time; the case count and time are printed at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from local.control import connect_in_browser
from local.openapi import DOCUMENT
from local.scenario import WhatsAppChange, WhatsAppMessage, signed_meta, whatsapp_body
from tests.e2e.conftest import RunningStack, summary_lines
from tests.e2e.test_all_platforms import META_SECRET, send

pytestmark = pytest.mark.e2e

# The document's examples (functions/admin/app.py), seeded by the fixture below.
ADVERTISER, NUMBER, CUSTOMER = "7100000000000000001", "106540352242922", "351910000001"
MAX_EXAMPLES = 10  # per operation in the fuzzing phase
MAX_MESSAGE = 600  # characters: a refusal that long is repeating its input

schema = schemathesis.openapi.from_path(DOCUMENT).include(path_regex="^/admin/")
# The Authorization header is the SigV4 signature (added to every call below), not a parameter to vary:
# the local stack does not check it, so a request without one would pass where API Gateway answers 403.
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none", with_security_parameters=False)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
ran: dict[str, Any] = {"cases": 0, "by_operation": {}, "started": None}


class SigV4(requests.auth.AuthBase):
    """Signs each request as API Gateway's AWS_IAM authorizer checks it (service execute-api).

    The local stack does not check signatures (as with `sam local`); signing here keeps the test a
    client a deployed stack would accept, and shows that a signed request passes the handler as is.
    """

    def __init__(self) -> None:
        self._credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
        self._region = os.environ["AWS_REGION"]

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        signed = AWSRequest(method=request.method, url=request.url, data=body, headers=dict(request.headers))
        SigV4Auth(self._credentials, "execute-api", self._region).add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        return request


@pytest.fixture(scope="module")
def seeded(stack: RunningStack) -> Iterator[requests.Session]:
    """What the document's examples name: the ad account and Business Account connected, the number linked, a conversation."""
    for kind in ("advertiser", "business"):
        page = connect_in_browser(stack.api, kind, "e2e")  # the workspace the other end-to-end tests connect into
        assert page.status_code == 200, page.text
    session = requests.Session()
    session.auth = SigV4()
    linked = session.put(f"{stack.api}/admin/advertisers/{ADVERTISER}/links/whatsapp/{NUMBER}", json={}, timeout=10)
    assert linked.status_code in (200, 409), linked.text
    message = WhatsAppMessage(CUSTOMER, "wamid.SCHEMA-SEED", int(time.time()), "hello")
    assert send(stack, signed_meta("", whatsapp_body(WhatsAppChange((message,), phone_number_id=NUMBER)), META_SECRET)).ok
    stack.drained()
    key = f"whatsapp%23{NUMBER}%23{CUSTOMER}"
    assert session.get(f"{stack.api}/admin/conversations/{key}", timeout=10).status_code == 200
    ran["started"] = time.monotonic()
    yield session
    took = time.monotonic() - ran["started"]
    summary_lines.append(f"schemathesis: {ran['cases']} admin API calls in {took:.1f} s; answers by operation:")
    for operation, statuses in sorted(ran["by_operation"].items()):
        summary_lines.append(f"  {operation:<68} {', '.join(f'{status}: {n}' for status, n in sorted(statuses.items()))}")


def readable(response: schemathesis.Response) -> str | None:
    """Why a 4xx is not readable, or None: JSON with a message that is a short sentence."""
    content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis keeps each header's values
    if not content_type.startswith("application/json"):
        return f"content type {content_type!r}"
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        return "not a JSON object"
    if not isinstance(message, str) or not message.strip():
        return "no message"
    if len(message) > MAX_MESSAGE:
        return f"a message of {len(message):,} characters"
    if "Traceback" in message or "Exception" in message:
        return "a message for programmers"
    return None


@schema.parametrize()
def test_the_admin_api_answers_every_request_with_a_2xx_or_a_readable_4xx(
    case: schemathesis.Case, stack: RunningStack, seeded: requests.Session
) -> None:
    response = case.call(base_url=stack.api, session=seeded, auth=seeded.auth, timeout=30)
    ran["cases"] += 1
    statuses = ran["by_operation"].setdefault(f"{case.operation.method.upper()} {case.operation.path}", {})
    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert response.request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        why = readable(response)
        assert why is None, (
            f"{case.method} {case.formatted_path} answered {response.status_code} with {why}: {response.text[:300]}"
        )
