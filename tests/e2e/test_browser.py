"""The headless browser driver against a page like the admin report: what is drawn, what is fetched, the screenshot."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from local.browser import BrowserError, HeadlessChromium

pytestmark = pytest.mark.e2e

BAR_HEIGHTS = [40.0, 120.0, 75.0]
# Self-contained like the report page: inline style and SVG, an empty icon so the browser asks for no favicon.
PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Replies per day</title><link rel="icon" href="data:,">
<style>body {{ margin: 0; font-family: sans-serif; }} rect {{ fill: #2a6; }}</style></head>
<body><h1>Replies per day</h1>
<svg xmlns="http://www.w3.org/2000/svg" width="300" height="150" viewBox="0 0 300 150">
{"".join(f'<rect x="{20 + 90 * i}" y="{150 - h:g}" width="60" height="{h:g}"/>' for i, h in enumerate(BAR_HEIGHTS))}
</svg></body></html>""".encode()


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = self.path == "/report"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE) if found else 0))
        self.end_headers()
        if found:
            self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class names it so)
        pass


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/report"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_bars_are_drawn_at_their_heights(browser: HeadlessChromium, page_url: str) -> None:
    browser.open(page_url)
    drawn = browser.evaluate("[...document.querySelectorAll('svg rect')].map(r => r.getBoundingClientRect().height)")
    assert drawn == pytest.approx(BAR_HEIGHTS, abs=0.01)
    assert browser.evaluate("document.title") == "Replies per day"


def test_the_page_fetches_nothing_but_itself(browser: HeadlessChromium, page_url: str) -> None:
    browser.open(page_url)
    assert browser.requests_made() == [page_url]


def test_a_full_page_screenshot_is_a_png(browser: HeadlessChromium, page_url: str, tmp_path: Path) -> None:
    browser.open(page_url)
    shot = browser.screenshot(tmp_path / "shots" / "report.png")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 100
    assert height >= 150


def test_a_refused_connection_is_a_clear_error(browser: HeadlessChromium) -> None:
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BrowserError, match=rf"could not open http://127\.0\.0\.1:{port}/: net::ERR_CONNECTION_REFUSED"):
        browser.open(f"http://127.0.0.1:{port}/")


def test_a_script_error_raises_with_its_message(browser: HeadlessChromium, page_url: str) -> None:
    browser.open(page_url)
    with pytest.raises(BrowserError, match="no bars here"):
        browser.evaluate("(() => { throw new Error('no bars here'); })()")
    assert browser.evaluate("Promise.resolve(document.querySelectorAll('rect').length)") == len(BAR_HEIGHTS)
