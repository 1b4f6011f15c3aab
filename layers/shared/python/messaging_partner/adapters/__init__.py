"""Ways to talk to something outside, grouped by what is on the other side.

aws/         boto3: queues, bus, KMS, one repository per DynamoDB table
tiktok_api/  TikTok's Business API over HTTPS
channels/    the four platforms' webhook dialects (WhatsApp, Messenger, Instagram, TikTok)

Each implements a port of domain/ports.py; none holds a business rule.
"""
