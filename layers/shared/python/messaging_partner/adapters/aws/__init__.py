"""boto3 adapters: one module per service, one repository per DynamoDB table."""
