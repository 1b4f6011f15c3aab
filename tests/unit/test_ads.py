"""The ad card resolver with fakes: memo, cache, one TikTok call per batch, Smart+, failures, tracking IDs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from messaging_partner.adapters.tiktok_api.ads import TikTokAdsApi
from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.domain.ad_cards import AdCardResolver
from messaging_partner.domain.errors import AdvertiserUnavailable, TikTokApiError
from messaging_partner.domain.models import AdReference, Channel, Route
from tests.unit.test_tiktok_client import ScriptedSession, envelope

ADV = "adv-1"


@dataclass
class FakeCache:
    cards: dict[str, AdReference] = field(default_factory=dict)
    reads: int = 0

    def get_many(self, advertiser_id: str, ad_ids: Iterable[str]) -> dict[str, AdReference]:
        self.reads += 1
        return {a: self.cards[a] for a in ad_ids if a in self.cards}

    def put_many(self, advertiser_id: str, cards: Iterable[AdReference]) -> None:
        self.cards.update({str(c.ad_id): c for c in cards})


@dataclass
class FakeTokens:
    unavailable: bool = False
    rejections: list[int] = field(default_factory=list)

    def token(self, advertiser_id: str) -> str:
        if self.unavailable:
            raise AdvertiserUnavailable("Ad account adv-1 needs re-authorization; connect it again.")
        return "token"

    def rejected(self, advertiser_id: str, error: TikTokApiError) -> None:
        self.rejections.append(error.code)


def ad(ad_id: str, **extra: Any) -> dict[str, Any]:
    return {"advertiser_id": ADV, "ad_id": ad_id, "ad_name": f"Ad {ad_id}", "campaign_name": "Spring", **extra}


def resolver(
    *answers: Any, cache: FakeCache | None = None, tokens: FakeTokens | None = None
) -> tuple[AdCardResolver, ScriptedSession]:
    session = ScriptedSession(list(answers))
    client = TikTokClient("https://tt.test/open_api/v1.3/", session=session, sleep=lambda _: None)  # type: ignore[arg-type]
    return AdCardResolver(cache or FakeCache(), tokens or FakeTokens(), TikTokAdsApi(client)), session


PREVIEW = envelope(0, {"preview_link": "https://preview"})


def test_a_batch_of_misses_is_one_ad_get_and_then_memory() -> None:
    ads, session = resolver(envelope(0, {"list": [ad("1"), ad("2")]}), PREVIEW, PREVIEW)
    ads.warm(ADV, ["1", "2", "1"])
    assert [c["url"].rsplit("/", 2)[-2] for c in session.calls].count("get") == 1
    card = ads.enrich(ADV, AdReference(ad_id="1", preview_url="https://embed/1", resolved_by="referral"))
    assert (card.ad_name, card.campaign_name, card.preview_url, card.resolved_by) == (
        "Ad 1",
        "Spring",
        "https://embed/1",
        "ad_get",
    )
    assert len(session.calls) == 3  # ad/get + two previews; enrich used memory


def test_cached_cards_need_no_tiktok_call() -> None:
    cache = FakeCache({"1": AdReference(advertiser_id=ADV, ad_id="1", ad_name="Cached", resolved_by="ad_get")})
    ads, session = resolver(cache=cache)
    assert ads.enrich(ADV, AdReference(ad_id="1")).ad_name == "Cached"
    assert session.calls == []


def test_smart_plus_creative_found_after_ad_get_misses() -> None:
    smart = {
        "advertiser_id": ADV,
        "smart_plus_ad_id": "S1",
        "ad_name": "Smart+",
        "creative_list": [{"ad_id": "c9", "message_material_id": "mm"}],
    }
    ads, _ = resolver(envelope(0, {"list": []}), envelope(0, {"list": [smart]}))
    card = ads.enrich(ADV, AdReference(ad_id="c9", is_smart_plus=True))
    assert (card.ad_name, card.is_smart_plus, card.resolved_by) == ("Smart+", True, "smart_plus_ad_get")


def test_not_found_says_why_and_keeps_the_referral_name() -> None:
    ads, _ = resolver(envelope(0, {"list": []}), envelope(0, {"list": []}))
    card = ads.enrich(ADV, AdReference(ad_id="404", ad_name="From referral", resolved_by="referral"))
    assert card.ad_name == "From referral"
    assert "TikTok has no ad 404" in str(card.unresolved_reason)


@pytest.mark.parametrize(("answer", "words"), [(envelope(40105), "code 40105"), (envelope(50000), "code 50000")])
def test_tiktok_failures_are_not_cached_and_reported(answer: Any, words: str) -> None:
    cache, tokens = FakeCache(), FakeTokens()
    ads, _ = resolver(answer, answer, answer, cache=cache, tokens=tokens)
    card = ads.enrich(ADV, AdReference(ad_id="1"))
    assert words in str(card.unresolved_reason)
    assert cache.cards == {}
    assert tokens.rejections == [int(words.split()[-1])]


def test_unavailable_advertiser_says_so() -> None:
    ads, session = resolver(tokens=FakeTokens(unavailable=True))
    assert "needs re-authorization" in str(ads.enrich(ADV, AdReference(ad_id="1")).unresolved_reason)
    assert session.calls == []


ROUTE = Route(advertiser_id=ADV, display_name="+1 (555) 078-3881")


@pytest.mark.parametrize(
    ("listed", "resolved", "candidates"),
    [
        ([ad("w1", phone_number="15550783881"), ad("m1", page_id="page-9")], "w1", ()),
        ([], None, ()),
        ([ad("w1", phone_number="15550783881"), ad("w2", phone_number="+1 555 078 3881")], None, ("w1", "w2")),
    ],
    ids=["one ad sends people to the number", "none does", "two do"],
)
def test_tracking_id_chain(listed: list[dict[str, Any]], resolved: str | None, candidates: tuple[str, ...]) -> None:
    ads, session = resolver(envelope(0, {"list": listed}), PREVIEW)
    card = ads.for_tracking_id(ROUTE, Channel.WHATSAPP, "106540352242922")
    assert (card.ad_id, card.candidates) == (resolved, candidates)
    assert (card.resolved_by == "single_active_im_ad") is (resolved is not None)
    if resolved is None:
        assert card.unresolved_reason
    ads.for_tracking_id(ROUTE, Channel.WHATSAPP, "106540352242922")
    assert len([c for c in session.calls if c["url"].endswith("/ad/get/")]) == 1  # remembered per container


def test_messenger_destination_is_the_page() -> None:
    ads, _ = resolver(envelope(0, {"list": [ad("m1", page_id="page-9")]}), PREVIEW)
    assert ads.for_tracking_id(Route(advertiser_id=ADV), Channel.MESSENGER, "page-9").ad_id == "m1"


def test_no_preview_call_for_ads_whose_click_carried_an_embed_link() -> None:
    ads, session = resolver(envelope(0, {"list": [ad("1"), ad("2")]}), PREVIEW)
    ads.warm(ADV, ["1", "2"], embedded={"1"})
    previews = [c for c in session.calls if c["url"].endswith("/creative/ads_preview/create/")]
    assert [c["json"]["ad_id"] for c in previews] == ["2"]
    assert ads.enrich(ADV, AdReference(ad_id="1", preview_url="https://embed/1")).preview_url == "https://embed/1"


def test_a_failed_lookup_is_retried_after_a_minute_not_once_per_conversation() -> None:
    now = [0.0]
    ads, session = resolver(envelope(50000), envelope(50000), envelope(50000), envelope(0, {"list": [ad("1")]}), PREVIEW)
    ads.clock = lambda: now[0]
    assert ads.enrich(ADV, AdReference(ad_id="1")).unresolved_reason  # TikTok down (three tries of one GET)
    now[0] = 30
    assert ads.enrich(ADV, AdReference(ad_id="1")).unresolved_reason
    assert len(session.calls) == 3  # remembered for a minute
    now[0] = 61
    retried = ads.enrich(ADV, AdReference(ad_id="1"))
    assert (retried.ad_name, retried.unresolved_reason) == ("Ad 1", None)


def test_a_failed_destination_lookup_is_retried_too() -> None:
    now = [0.0]
    ads, _ = resolver(envelope(40001), envelope(0, {"list": [ad("w1", phone_number="15550783881")]}), PREVIEW)
    ads.clock = lambda: now[0]
    assert ads.for_tracking_id(ROUTE, Channel.WHATSAPP, "p1").unresolved_reason
    now[0] = 61
    assert ads.for_tracking_id(ROUTE, Channel.WHATSAPP, "p1").ad_id == "w1"
