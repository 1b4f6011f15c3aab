"""The OpenAPI document of the admin and OAuth APIs, as powertools makes it from the routes' annotations.

Each function's resolver gives its own document (`app.get_openapi_schema`); powertools'
OpenAPIMerge joins them with the title, the description and the IAM (SigV4) scheme of the
admin routes. Three things are changed after: powertools announces a 422 for every validated
route, but our handlers answer 400 (the Refusal shape each route lists), so the 422s and their
schemas go; a 204 or a redirect has no body, whatever the route's return type says; and the
document is written with sorted keys, so it only changes when the API does.

`python -m local openapi` (or `make openapi`) writes openapi.json at the repository root;
tests/integration/test_openapi.py fails when the committed file differs from this.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

from .runtime import load_module
from .template import ROOT, Template

DOCUMENT = ROOT / "openapi.json"
FUNCTIONS = ("AdminFunction", "OAuthFunction")  # the HTTP APIs people call; webhooks are the platforms' to call
DESCRIPTION = """\
The HTTP API of the TikTok Messaging Partner backend that people and their tools call.

**Admin** (`/admin/...`): ad accounts and their linked chat accounts, keyword lists,
conversations with their ad card and signals, outcome signals, Business Account
connections, and reports. Every admin request is signed with AWS Signature Version 4
(service `execute-api`) by a principal allowed `execute-api:Invoke` on the API.
Refusals are JSON: `{"message": "...", "problems": ["<field> <what was wrong>", ...]}`.

**OAuth** (`/oauth/tiktok/...`): the pages an advertiser's browser goes through to connect
TikTok ad accounts or a TikTok Business Account. They answer HTML pages and redirects.

Limits: ids at most 128 characters, conversation keys 512 (as sent, each `#` as `%23`),
display names 200, `next` cursors 2,048, bodies 1 MiB (JSON only), pages of 1 to 200
conversations, keyword lists of 1,000 keywords of 1 to 80 characters.

Generated from the handlers' annotations by `make openapi`; do not edit by hand."""

IAM_SCHEME = {
    "type": "apiKey",
    "name": "Authorization",
    "in": "header",
    "description": "AWS Signature Version 4 (service execute-api), as API Gateway's AWS_IAM authorizer checks it: "
    "sign with credentials allowed execute-api:Invoke on the API; temporary credentials add x-amz-security-token.",
    "x-amazon-apigateway-authtype": "awsSigv4",
}


def _handler_module(logical_id: str, template: Template) -> ModuleType:
    name = f"openapi_{logical_id}"
    spec = next(f for f in template.functions() if f.logical_id == logical_id)
    return sys.modules[name] if name in sys.modules else load_module(spec, name)


def document() -> dict[str, Any]:
    """The merged document, as a dict (what openapi.json holds)."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    template = Template()
    for layer_dir in template.layer_dirs():
        if str(layer_dir) not in sys.path:
            sys.path.insert(0, str(layer_dir))
    # Importing a handler builds its Tracer; outside Lambda it would look for the X-Ray daemon.
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    merge = OpenAPIMerge(
        title="TikTok Messaging Partner backend: admin and OAuth API",
        version=version,
        description=DESCRIPTION,
        on_conflict="error",
    )
    from aws_lambda_powertools.event_handler.openapi.models import APIKey

    schemes = {"iam": APIKey.model_validate(IAM_SCHEME)}
    for logical_id in FUNCTIONS:
        schema = _handler_module(logical_id, template).app.get_openapi_schema(security_schemes=schemes)
        merge.add_schema(schema.model_dump(mode="json", by_alias=True, exclude_none=True))
    merged = merge.get_openapi_schema()
    merged["servers"] = [
        {
            "url": "/",
            "description": "The stack's ApiUrl output (https://<api id>.execute-api.<region>.amazonaws.com); "
            "locally http://127.0.0.1:3000 (make up).",
        }
    ]
    components = merged.setdefault("components", {})
    components.setdefault("securitySchemes", {})["iam"] = IAM_SCHEME
    for path_item in merged["paths"].values():
        for operation in path_item.values():
            operation["responses"].pop("422", None)
            for status in ("204", "302"):  # no body; powertools gives every answer the route's return type
                operation["responses"].get(status, {}).pop("content", None)
    schemas = components.get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return dict(json.loads(json.dumps(merged, sort_keys=True)))


def rendered() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write() -> Path:
    DOCUMENT.write_text(rendered(), encoding="utf-8")
    return DOCUMENT
