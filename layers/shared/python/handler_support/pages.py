"""Small HTML pages for people in a browser (the OAuth outcomes)."""

from __future__ import annotations

from html import escape

from aws_lambda_powertools.event_handler import Response

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}
h1{{font-size:1.4rem}} .ok{{color:#0a7d32}} .no{{color:#b3261e}}</style></head>
<body><h1 class="{tone}">{title}</h1>{body}</body></html>
"""


def html_page(status: int, title: str, paragraphs: list[str], items: list[str] | None = None) -> Response[str]:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if items:
        body += "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"
    tone = "ok" if status < 400 else "no"
    page = _PAGE.format(title=escape(title), body=body, tone=tone)
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=page)
