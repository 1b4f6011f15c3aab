"""One repository per DynamoDB table."""
