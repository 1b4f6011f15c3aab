"""The shared package of the TikTok Messaging Partner backend, shipped to every function as a layer.

domain/    rules and shapes: what the backend decides; imports no boto3, requests or powertools
adapters/  ways to talk to something outside: aws/, tiktok_api/, channels/

Imports go one way: adapters import the domain, never the reverse. Handlers
(functions/<name>/app.py) wire adapters into rules through handler_support/wiring.py.
"""
