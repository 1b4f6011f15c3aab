"""AWS request prices (us-east-1 list prices, USD per million) to turn request counts into money.

Sources: DynamoDB on-demand $0.625 per million write request units and $0.125 per million
read request units, a transactional write costs two WRUs per item (AWS "How AWS Pricing
Works", DynamoDB); EventBridge custom events $1.00 per million (DESIGN.md section 2);
SQS $0.40 (standard) / $0.50 (FIFO) per million requests; Secrets Manager $0.05 per
10,000 calls. Free tiers are ignored. Items are assumed under 1 KB (ours are).
"""

from __future__ import annotations

from collections.abc import Mapping

WRU = 0.625
RRU = 0.125

# (service, operation) -> USD per million calls, for the operations our handlers make.
PRICE_PER_MILLION_CALLS = {
    ("dynamodb", "TransactWriteItems"): 2 * 2 * WRU,  # two items (marker + conversation), 2 WRU each
    ("dynamodb", "PutItem"): WRU,
    ("dynamodb", "UpdateItem"): WRU,
    ("dynamodb", "GetItem"): RRU,  # strongly consistent, under 4 KB
    ("dynamodb", "Query"): RRU,
    ("eventbridge", "PutEvents"): 1.00,
    ("sqs", "SendMessageBatch"): 0.50,  # FIFO price; a standard queue is cheaper, so this is the upper bound
    ("sqs", "SendMessage"): 0.50,
    ("secrets-manager", "GetSecretValue"): 5.00,
}


def price_per_million_messages(requests_by_operation: Mapping[tuple[str, str], int], messages: int) -> float:
    """USD per million inbound messages; unknown operations are priced at $1 per million, as a flag not a guess."""
    if messages == 0:
        return 0.0
    total = sum(PRICE_PER_MILLION_CALLS.get(key, 1.0) * count for key, count in requests_by_operation.items())
    return total / messages
