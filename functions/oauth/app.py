"""OAuthFunction: /oauth/tiktok/{kind}/start and /oauth/tiktok/callback.

The routes are live so the API shape is final; the two TikTok flows (issue 4) are not built
yet, and the routes say so plainly instead of pretending to connect anything.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.http import json_response
from handler_support.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()
KINDS = ("advertiser", "business")
NOT_AVAILABLE = "Connecting TikTok accounts is not available in this version of the backend yet."


@app.get("/oauth/tiktok/<kind>/start")
def start(kind: str) -> Response[str]:
    if kind not in KINDS:
        return json_response(404, {"message": f"Unknown connection kind {kind!r}. Use one of: {', '.join(KINDS)}."})
    return json_response(501, {"message": NOT_AVAILABLE})


@app.get("/oauth/tiktok/callback")
def callback() -> Response[str]:
    return json_response(501, {"message": NOT_AVAILABLE})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
