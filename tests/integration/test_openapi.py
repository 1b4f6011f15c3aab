"""openapi.json is what powertools makes of the admin and OAuth handlers today, and it says what a client must know."""

from __future__ import annotations

import json
from typing import Any

from local.openapi import DOCUMENT, document, rendered

UPDATE = "Run `make openapi` (or .venv/bin/python -m local openapi) and commit openapi.json."


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation) for path, item in spec["paths"].items() for method, operation in item.items()]


def test_the_committed_document_is_the_generated_one() -> None:
    assert DOCUMENT.exists(), f"openapi.json is missing. {UPDATE}"
    committed, generated = json.loads(DOCUMENT.read_text(encoding="utf-8")), document()
    changed = sorted(
        f"{method} {path}"
        for method, path, operation in operations(generated)
        if committed.get("paths", {}).get(path, {}).get(method.lower()) != operation
    )
    assert committed == generated, f"openapi.json is out of date ({', '.join(changed) or 'info or components'}). {UPDATE}"
    assert DOCUMENT.read_text(encoding="utf-8") == rendered(), f"openapi.json is not formatted as generated. {UPDATE}"


def test_admin_routes_need_sigv4_and_refuse_in_json_with_400() -> None:
    spec = document()
    assert spec["components"]["securitySchemes"]["iam"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    admin = [(method, path, op) for method, path, op in operations(spec) if path.startswith("/admin/")]
    assert len(admin) == 15
    for method, path, operation in admin:
        assert operation["security"] == [{"iam": []}], f"{method} {path}"
        assert "422" not in operation["responses"], f"{method} {path}: the handlers answer 400, never 422"
        if operation.get("parameters") or "requestBody" in operation:
            refusal = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert refusal == {"$ref": "#/components/schemas/Refusal"}, f"{method} {path}"
    oauth = [path for _, path, operation in operations(spec) if path.startswith("/oauth/") and "security" not in operation]
    assert sorted(oauth) == ["/oauth/tiktok/callback", "/oauth/tiktok/{kind}/start"]


def test_every_text_a_client_sends_has_a_length_limit() -> None:
    """The limits are in the document, so a client knows them before it is refused."""
    for method, path, operation in operations(document()):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            texts = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string" and "enum" not in s]
            assert all("maxLength" in text for text in texts), f"{method} {path}: {parameter['name']} has no maxLength"
