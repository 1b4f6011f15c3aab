"""The walk of one WhatsApp message, traced: it goes down the layers and never re-enters a module it left.

The message opens a conversation on a linked number with a TikTok tracking ID, so the
walk passes every step a first message can take (routing, tracking ID, ad card, advertiser
token, lead counter, events). The README's architecture section lists the same walk; this
test holds the list to the code.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from types import FrameType
from typing import Any

from local.scenario import WhatsAppChange, WhatsAppMessage, signed_meta, whatsapp_body
from tests.integration.conftest import IntegrationStack
from tests.integration.test_ad_cards import META_SECRET, TRACKED, attribute, linked

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# Where a frame's file is named from: the layer's packages by their import path, handlers by their folder.
PROJECT_ROOTS = (f"{ROOT}/layers/shared/python/", f"{ROOT}/")
PROJECT_PREFIXES = ("messaging_partner/", "handler_support/", "functions/")


def project_module(frame: FrameType) -> str | None:
    """The project file a frame runs in, as a path a reader can find; None for libraries, tests, the local stack."""
    filename = frame.f_code.co_filename
    for root in PROJECT_ROOTS:
        if filename.startswith(root) and filename[len(root) :].startswith(PROJECT_PREFIXES):
            return filename[len(root) :]
    return None


class Walk:
    """Module-to-module calls, in the order modules are first entered."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.calls: dict[str, set[str]] = {}

    def profile(self, frame: FrameType, event: str, _: Any) -> None:
        if event != "call" or frame.f_code.co_name == "<module>":
            return
        callee = project_module(frame)
        if callee is None:
            return
        caller_frame, caller = frame.f_back, None
        while caller_frame is not None and caller is None:
            caller = project_module(caller_frame)
            caller_frame = caller_frame.f_back
        if caller is not None and caller != callee:
            self.calls.setdefault(caller, set()).add(callee)
        if callee not in self.order:
            self.order.append(callee)

    def cycle(self) -> list[str] | None:
        try:
            tuple(TopologicalSorter(self.calls).static_order())
        except CycleError as error:
            return list(error.args[1])
        return None


@contextmanager
def traced() -> Iterator[Walk]:
    walk = Walk()
    sys.setprofile(walk.profile)
    try:
        yield walk
    finally:
        sys.setprofile(None)


def walk_of_one_whatsapp_message(stack: IntegrationStack) -> tuple[Walk, Walk]:
    linked(stack, ("whatsapp", "106540352242922", "+1 555-078-3881"))
    # Warm containers, as most messages find them (adapters built, secrets fetched), with a
    # message to another, unlinked number: nothing about the walked message is remembered.
    now = int(time.time())
    warm_up = WhatsAppChange((WhatsAppMessage("351910000001", "wamid.WARM", now, "hello"),), phone_number_id="100000000000001")
    assert stack.deliver(signed_meta("", whatsapp_body(warm_up), META_SECRET))["statusCode"] == 200
    attribute(stack)
    body = whatsapp_body(WhatsAppChange((WhatsAppMessage("351910000009", "wamid.WALK", now, TRACKED),)))
    delivery = signed_meta("", body, META_SECRET)
    with traced() as webhook:
        assert stack.deliver(delivery)["statusCode"] == 200
    with traced() as attribution:
        attribute(stack)
    return webhook, attribution


def numbered_paths(markdown: str) -> list[str]:
    return re.findall(r"^\s*\d+\. `([^`]+)`", markdown, re.MULTILINE)


def readme_walk() -> tuple[list[str], list[str]]:
    """The two numbered module lists under the README's "Follow one WhatsApp message" heading."""
    section = README.read_text().split("### Follow one WhatsApp message", 1)[1].split("\n## ", 1)[0]
    webhook, attribution = section.split("AttributionFunction", 1)
    return numbered_paths(webhook), numbered_paths(attribution)


def test_one_whatsapp_message_goes_down_the_layers_as_the_readme_says(aws_stack: IntegrationStack) -> None:
    webhook, attribution = walk_of_one_whatsapp_message(aws_stack)
    for name, walk in (("webhook", webhook), ("attribution", attribution)):
        assert walk.cycle() is None, f"the {name} walk re-enters a module it left: {' -> '.join(walk.cycle() or [])}"
    assert readme_walk() == (webhook.order, attribution.order)


def test_the_tracer_sees_a_call_back_into_a_module() -> None:
    walk = Walk()
    walk.calls = {"a.py": {"b.py"}, "b.py": {"a.py"}}
    assert walk.cycle() is not None
