"""Rules and shapes, importing no boto3, requests or powertools.

Shapes: models (messages, conversations, cards, accounts, what TikTok answers),
domain_events, ports (every interface the rules talk through), errors.
Rules: webhooks (receipt), attribution (first touch), tracking (tracking-ID patterns),
ad_cards (the ad card resolver), leads (the lead counter's rule), connections (OAuth),
tokens (refresh, NEEDS_REAUTH, the refresh retry policy), reports (TikTok's rows read, figures
summed and derived), rollups (windows, fan-out, pacing, one ad account's rollup).
expiring: a per-container memory.
"""
