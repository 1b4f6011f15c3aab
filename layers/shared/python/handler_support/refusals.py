"""Refusals people can read: what powertools' request validation found, as sentences, and bodies that cannot be read.

Every refusal names the field and what was wrong, never repeating more than a short
start of what was sent: a 500 KB name comes back as its length, not as itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from .http import json_response

SHOWN = 40  # characters of a sent value a refusal may repeat

Handler = TypeVar("Handler", bound=Callable[..., Any])


class BodyNotAnObject(ValueError):
    """The body is JSON, but not the object every admin request body is."""

    def __init__(self, value: Any) -> None:
        kind = {list: "an array", str: "a string", bool: "true or false", int: "a number", float: "a number"}.get(type(value), "")
        super().__init__(f"The body must be a JSON object ({{...}}), not {kind}.")


def json_object_body(text: str) -> Any:
    """powertools' JSON body reader for the admin API: an object, or no body at all (`null`).

    json.loads alone lets two bodies through to a 500: one nested deeper than Python's recursion
    limit (RecursionError), and a top-level array, whose first element powertools would
    validate as if it were the body.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("it nests deeper than Python reads (about 1,000 levels)", text, 0) from None
    if value is not None and not isinstance(value, dict):
        raise BodyNotAnObject(value)
    return value


def shown(value: Any) -> str:
    """A sent value as a refusal repeats it: short ones whole, long ones by their start and length."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text) if len(text) <= SHOWN else f"{text[:SHOWN]!r}... ({len(text):,} characters)"


def problems_of(errors: Sequence[Any]) -> list[str]:
    """One sentence per problem powertools' validation (pydantic) found, each naming its field."""
    problems: list[str] = []
    for error in errors:
        context = error.get("ctx") or {}
        if "problems" in context:  # a rule that names every bad entry itself (the keyword list)
            problems.extend(str(problem) for problem in context["problems"])
        else:
            problems.append(_sentence(error, context))
    return problems


def _field(location: Sequence[Any]) -> str:
    where, *path = location or ("body",)
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    if where == "body":
        return f"the body's {name}" if name else "the body"
    return f"{name} in the path" if where == "path" else name or str(where)


def _sentence(error: dict[str, Any], context: dict[str, Any]) -> str:
    kind, sent = error.get("type", ""), error.get("input")
    location = tuple(error.get("loc") or ())
    field = _field(location)
    if kind == "json_invalid":
        return f"The body is not JSON: {context.get('error', 'it cannot be read')}."
    if kind in ("invalid_outcome", "invalid_keywords"):  # the rules' own sentences
        return str(error.get("msg"))
    if kind == "value_error":
        reason = context.get("error")
        return f"{field} {reason.args[0] if isinstance(reason, Exception) and reason.args else reason}."
    if kind in ("enum", "literal_error"):
        name = field.removesuffix(" in the path")
        where = " in the path" if name != field else ""
        return f"Unknown {name} {shown(sent)}{where}. Use one of: {context.get('expected')}."
    if kind == "missing":
        return f"{field} is required." if location != ("body",) else "The body is required."
    if kind == "string_too_short" and context.get("min_length") == 1:
        return f"{field} is required (it was empty)."
    length = f" (it has {len(sent):,})" if isinstance(sent, str | list) else ""
    phrases = {
        "string_too_short": f"must be at least {_number(context.get('min_length'))} characters",
        "string_too_long": f"must be at most {_number(context.get('max_length'))} characters{length}",
        "too_long": f"must have at most {_number(context.get('max_length'))} items{length}",
        "string_pattern_mismatch": f"must match {context.get('pattern')}",
        "string_type": "must be text",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number written with the digits 0 to 9",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "list_type": "must be a list",
        "dict_type": "must be a JSON object",
        "model_type": "must be a JSON object",
        "model_attributes_type": "must be a JSON object",
        "extra_forbidden": "is not a field of this request",
        "greater_than_equal": f"must be {context.get('ge')} or more",
        "greater_than": f"must be more than {context.get('gt')}",
        "less_than_equal": f"must be {context.get('le')} or less",
        "less_than": f"must be less than {context.get('lt')}",
    }
    phrase = phrases.get(kind) or str(error.get("msg", "is not accepted")).rstrip(".").lower()
    return f"{field} {phrase}."


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def refusal_body(errors: Sequence[Any]) -> dict[str, Any]:
    """`{"message": a sentence, "problems": [one sentence per problem]}`."""
    problems = problems_of(errors)  # each starts with its field's name, as sent (limit, from, the body's ...)
    custom = [error for error in errors if error.get("type") == "invalid_keywords"]
    if custom:
        message = str(custom[0].get("msg"))
    elif len(problems) == 1:
        message = f"The request was refused: {problems[0]}"
    else:
        message = f"The request was refused for {len(problems)} reasons; the first: {problems[0]}"
    return {"message": message, "problems": problems}


def validation_refusal(error: RequestValidationError) -> Response[str]:
    return json_response(400, refusal_body(error.errors()))


def readable_json_bodies(max_bytes: int) -> Callable[[Handler], Handler]:
    """Refuses, before powertools reads it, a body that is too big, not JSON by its content type, or not UTF-8.

    powertools would parse a form or multipart body instead of refusing it (a multipart body
    without its boundary is a 500), and decode base64 bodies as UTF-8 without asking.
    """

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(event: dict[str, Any], context: Any) -> Any:
            refused = _unreadable(event, max_bytes)
            return refused if refused is not None else handler(event, context)

        return guarded  # type: ignore[return-value]

    return wrap


def _unreadable(event: dict[str, Any], max_bytes: int) -> dict[str, Any] | None:
    body = event.get("body")
    if not body:
        return None
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
    except (binascii.Error, UnicodeEncodeError):
        raw = b"\xff"  # not base64 (API Gateway always sends it well formed), or a lone surrogate: not UTF-8 either
    if len(raw) > max_bytes:
        return _answer(413, f"The body is {len(raw):,} bytes; the admin API takes at most {max_bytes:,}.")
    content_type = ((event.get("headers") or {}).get("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json":
        return _answer(415, f"The body must be JSON sent as Content-Type: application/json, not {shown(content_type)}.")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return _answer(400, "The body is not UTF-8 text; send JSON encoded as UTF-8.")
    return None


def _answer(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"message": message})}
