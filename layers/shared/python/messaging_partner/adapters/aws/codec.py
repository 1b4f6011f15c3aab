"""Plain Python values <-> DynamoDB attribute values, for the low-level client.

The low-level client keeps each operation one request we can count. Numbers come back as
int when whole; a float (an outcome's value) is stored as the decimal of its shortest
representation, so 19.9 stays 19.9 and never becomes 19.899999999999998578.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_decimals(value)) for key, value in values.items() if value is not None}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


def from_item(item: dict[str, Any], exact: bool = False) -> dict[str, Any]:
    """Plain values; with exact, numbers stay Decimal (money read back as written)."""
    if exact:
        return {key: _deserializer.deserialize(value) for key, value in item.items()}
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value
