"""What Lambda handlers share and the domain must not import: powertools observability, secrets, HTTP helpers.

Kept apart from messaging_partner because Tracer opens a UDP socket at import (DESIGN.md section 7).
"""
