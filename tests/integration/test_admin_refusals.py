"""Inputs that once crashed the admin API (500) are readable 400s now, each naming its field and never echoing a huge input.

Each case goes through AdminFunction as API Gateway would call it: powertools' validation of the
route's parameters and body (messaging_partner/domain/admin_api.py holds the limits), the body
guard in front of it (handler_support/refusals.py), and the cursor check in the conversations
adapter.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.integration.conftest import IntegrationStack
from tests.integration.test_connections import ADVERTISER_1, connect

LINK = f"/admin/advertisers/{ADVERTISER_1}/links/whatsapp/106540352242922"
KEYWORDS = f"/admin/advertisers/{ADVERTISER_1}/keywords"
OUTCOMES = "/admin/conversations/whatsapp%23106540352242922%23351910000001/outcomes"
LIST = f"/admin/conversations?advertiser_id={ADVERTISER_1}"


def call(
    stack: IntegrationStack, method: str, path: str, body: bytes | str = b"", content_type: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    raw = body.encode() if isinstance(body, str) else body
    response = stack.http("AdminFunction", method, path, raw, {"content-type": content_type})
    answer = json.loads(response["body"]) if response.get("body") else {}
    return response["statusCode"], answer


def refused(stack: IntegrationStack, method: str, path: str, body: bytes | str = b"", **kwargs: Any) -> dict[str, Any]:
    """The answer to a request that must be refused with a readable 400: a message, short, in sentences."""
    status, answer = call(stack, method, path, body, **kwargs)
    assert status == 400, (method, path[:80], status, answer)
    assert isinstance(answer.get("message"), str), answer
    assert answer["message"].endswith("."), answer
    assert len(json.dumps(answer)) < 2_000, f"the refusal of {path[:80]} repeats what was sent"
    return answer


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(value if isinstance(value, bytes) else json.dumps(value).encode()).decode()


def test_page_sizes_and_moments_that_are_not_numbers_a_person_means(aws_stack: IntegrationStack) -> None:
    answer = refused(aws_stack, "GET", f"{LIST}&limit=0")
    assert answer["problems"] == ["limit must be 1 or more."]
    assert refused(aws_stack, "GET", f"{LIST}&limit=201")["problems"] == ["limit must be 200 or less."]
    assert "whole number" in refused(aws_stack, "GET", f"{LIST}&limit=%C2%B2")["message"]  # "²": str.isdigit() says yes
    assert "from takes an ISO date" in refused(aws_stack, "GET", f"{LIST}&from=%C2%B2")["message"]
    assert "to takes an ISO date" in refused(aws_stack, "GET", f"{LIST}&to=%C2%B9%C2%B2")["message"]
    forty_digits = "9" * 40
    assert "epoch milliseconds go up to" in refused(aws_stack, "GET", f"{LIST}&from={forty_digits}")["message"]
    assert "at most 40 characters" in refused(aws_stack, "GET", f"{LIST}&to={'1' * 500}")["message"]
    assert refused(aws_stack, "GET", "/admin/conversations")["problems"] == ["advertiser_id is required."]
    # What people do send still works: dates, date-times, epoch milliseconds.
    for moment in ("2026-11-22", "2026-11-22T10:00:00Z", "1795341600000"):
        assert call(aws_stack, "GET", f"{LIST}&from={moment}&limit=1")[0] == 200, moment


def test_cursors_that_this_listing_never_gave(aws_stack: IntegrationStack) -> None:
    right_shape = {"pk": "CONV#whatsapp#1#2", "sk": "META", "advertiser_id": ADVERTISER_1, "started_at_ms": 5}
    cases = {
        "garbage": "garbage!!",
        "bad base64": "abc",
        "base64 of text": cursor(b"not json at all"),
        "base64 of bytes": cursor(b"\xff\xfe\x00"),
        "an array": cursor([1, 2]),
        "keys missing": cursor({"pk": "CONV#x"}),
        "a key of the wrong type": cursor({**right_shape, "started_at_ms": "5"}),
        "another table's key": cursor({**right_shape, "pk": "ADV#1"}),
        "deeply nested": cursor(b"[" * 1_400),
    }
    for case, value in cases.items():
        answer = refused(aws_stack, "GET", f"{LIST}&next={value}")
        assert "next cursor" in answer["message"], case
    another = cursor({**right_shape, "advertiser_id": "7100000000000000002"})
    assert "belongs to another query" in refused(aws_stack, "GET", f"{LIST}&next={another}")["message"]
    outside = cursor({**right_shape, "started_at_ms": 5})
    assert "another query" in refused(aws_stack, "GET", f"{LIST}&from=2026-01-01&next={outside}")["message"]
    assert "at most 2,048 characters" in refused(aws_stack, "GET", f"{LIST}&next={'A' * 3_000}")["message"]


def test_bodies_that_are_not_json_objects(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    for path, method in ((LINK, "PUT"), (KEYWORDS, "PUT"), (OUTCOMES, "POST")):
        assert "The body is not JSON" in refused(aws_stack, method, path, '{"display_name": ')["message"], path
        assert "not JSON" in refused(aws_stack, method, path, "[" * 5_000)["message"], path  # deeper than recursion allows
        answer = refused(aws_stack, method, path, json.dumps([{"display_name": "+1", "keywords": []}]))
        assert answer["message"] == "The body must be a JSON object ({...}), not an array.", path
        assert "not a string" in refused(aws_stack, method, path, '"hello"')["message"], path
    assert "The body is not UTF-8" in call(aws_stack, "PUT", LINK, b'{"display_name": "\xff"}')[1]["message"]
    status, answer = call(aws_stack, "PUT", LINK, "display_name=x", content_type="application/x-www-form-urlencoded")
    assert (status, "application/json" in answer["message"]) == (415, True)
    status, answer = call(aws_stack, "PUT", LINK, b"--x\r\n", content_type="multipart/form-data")  # no boundary
    assert status == 415
    status, answer = call(aws_stack, "PUT", KEYWORDS, json.dumps({"keywords": [{"keyword": "k" * 1_100_000}]}))
    assert (status, "at most 1,048,576" in answer["message"]) == (413, True)
    # An empty body is no body: a link without a display name.
    assert call(aws_stack, "PUT", LINK, b"")[0] == 200


def test_names_of_the_wrong_type_or_size(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    for name in (5, ["+1"], {"first": "+1"}, True):
        answer = refused(aws_stack, "PUT", LINK, json.dumps({"display_name": name}))
        assert answer["problems"] == ["the body's display_name must be text."], name
    huge = refused(aws_stack, "PUT", LINK, json.dumps({"display_name": "n" * 500_000}))
    assert huge["problems"] == ["the body's display_name must be at most 200 characters (it has 500,000)."]
    typo = refused(aws_stack, "PUT", LINK, json.dumps({"displayName": "+1"}))
    assert typo["problems"] == ["the body's displayName is not a field of this request."]
    long_keyword = refused(aws_stack, "PUT", KEYWORDS, json.dumps({"keywords": [{"keyword": "k" * 500_000, "signal": "s"}]}))
    assert long_keyword["message"] == "The keyword list was not saved."
    assert long_keyword["problems"][0].endswith("(500,000 characters)): the keyword must be text of 1 to 80 characters.")
    assert call(aws_stack, "GET", f"/admin/advertisers/{ADVERTISER_1}/keywords")[1]["version"] == 0  # nothing saved


def test_ids_too_long_for_a_path(aws_stack: IntegrationStack) -> None:
    long_id = "7" * 3_000
    for method, path in (
        ("GET", f"/admin/advertisers/{long_id}"),
        ("GET", f"/admin/advertisers/{long_id}/keywords"),
        ("PUT", f"/admin/advertisers/{ADVERTISER_1}/links/whatsapp/{long_id}"),
        ("DELETE", f"/admin/advertisers/{long_id}/links/whatsapp/1"),
        ("GET", f"/admin/businesses/{long_id}"),
        ("GET", f"/admin/conversations/{long_id}"),
    ):
        answer = refused(aws_stack, method, path)
        assert "in the path must be at most" in answer["message"], path
        assert "(it has 3,000)" in answer["message"], path
    assert "advertiser_id must be at most 128" in refused(aws_stack, "GET", f"/admin/reports?advertiser_id={long_id}")["message"]
    unknown = refused(aws_stack, "DELETE", f"/admin/advertisers/{ADVERTISER_1}/links/telegram/1")
    assert unknown["problems"] == [
        "Unknown channel 'telegram' in the path. Use one of: 'whatsapp', 'messenger', 'instagram' or 'tiktok'."
    ]
