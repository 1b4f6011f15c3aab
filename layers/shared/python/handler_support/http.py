"""HTTP API (payload v2) helpers."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response


def raw_body(event: dict[str, Any]) -> bytes:
    """The request body exactly as the client sent it (signatures are computed over these bytes).

    A text body is UTF-8; a lone surrogate in it (text that was never valid UTF-8) is kept as
    its bytes, so the request fails its signature check (401) instead of the handler (500).
    """
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8", "surrogatepass")


def json_response(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str))
