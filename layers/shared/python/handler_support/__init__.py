"""What Lambda handlers share and the domain must not import: settings, wiring, powertools observability, secrets, HTTP.

Kept apart from messaging_partner because powertools' Tracer opens a UDP socket at import
(DESIGN.md section 7), and because only handlers read the environment.
"""
