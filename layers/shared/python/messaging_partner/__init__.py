"""Domain package of the TikTok Messaging Partner backend, shipped to every function as a layer.

Domain modules (models, events, channels, webhooks, attribution) import no AWS SDK;
adapters live in store/, bus.py and queues.py.
"""
