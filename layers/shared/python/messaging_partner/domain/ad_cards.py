"""The ad card resolver: which ad a TikTok ad conversation came from, as cheaply as possible.

Order of lookups: this container's memo, the AdLookups table (TTL), then TikTok, batched
per advertiser (one /ad/get/ for up to 100 ids). Upgraded Smart+ creatives (a
message_material_id, or not found by /ad/get/) resolve through /smart_plus/ad/get/.
A tracking ID from WhatsApp/Messenger/Instagram resolves by the DESIGN.md section 4
chain: TikTok gives no mapping, so the single active Instant Messaging ad whose
destination is this chat account; else the card says ad flow, ad unknown, with candidates.
Whatever does not resolve still yields a card saying why; the workflow never stops here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from .errors import AdvertiserUnavailable, TikTokApiError, TikTokTransportError
from .models import AdNames, AdReference, Channel, Route, TikTokAd
from .ports import AdCache, AdvertiserTokens, TikTokAds


def card_from(names: AdNames, ad_id: str, resolved_by: str, is_smart_plus: bool = False) -> AdReference:
    return AdReference(
        ad_id=ad_id, resolved_by=resolved_by, is_smart_plus=is_smart_plus, **names.model_dump(include=_NAME_FIELDS)
    )


_NAME_FIELDS = set(AdNames.model_fields)


@dataclass
class AdCardResolver:
    cache: AdCache
    tokens: AdvertiserTokens
    tiktok: TikTokAds
    memo: dict[tuple[str, str], AdReference] = field(default_factory=dict)
    retry_failed_after_seconds: float = 60  # a failed lookup is retried, but not once per conversation
    clock: Callable[[], float] = time.monotonic
    _failed_at: dict[tuple[str, str], float] = field(default_factory=dict)

    def _known(self, key: tuple[str, str]) -> bool:
        failed_at = self._failed_at.get(key)
        if failed_at is not None and self.clock() - failed_at >= self.retry_failed_after_seconds:
            return False
        return key in self.memo

    def _remember_failure(self, key: tuple[str, str], card: AdReference) -> None:
        self.memo[key] = card
        self._failed_at[key] = self.clock()

    def warm(self, advertiser_id: str, ad_ids: Iterable[str], embedded: Collection[str] = ()) -> None:
        """Resolve a batch's ads at once: memo, then one cache read, then one TikTok call for the misses.

        `embedded`: ads whose click already carried an embed link; it wins over a preview link, so none is fetched.
        """
        wanted = sorted({a for a in ad_ids if not self._known((advertiser_id, a))})
        if not wanted:
            return
        cached = self.cache.get_many(advertiser_id, wanted)
        self.memo.update({(advertiser_id, ad_id): card for ad_id, card in cached.items()})
        misses = [a for a in wanted if a not in cached]
        if not misses:
            return
        try:
            token = self.tokens.token(advertiser_id)
            found = {ad.ad_id: card_from(ad, ad.ad_id, "ad_get") for ad in self.tiktok.ads_by_id(advertiser_id, token, misses)}
            not_found = [a for a in misses if a not in found]
            if not_found:  # Upgraded Smart+ referrals carry a creative id, which /ad/get/ does not know
                for smart in self.tiktok.smart_plus_ads(advertiser_id, token):
                    for creative_id in not_found:
                        if smart.has_creative(creative_id):
                            found[creative_id] = card_from(smart, creative_id, "smart_plus_ad_get", is_smart_plus=True)
        except (AdvertiserUnavailable, TikTokApiError, TikTokTransportError) as error:
            if isinstance(error, TikTokApiError):
                self.tokens.rejected(advertiser_id, error)
            reason = _reason(error)
            for ad_id in misses:  # not cached in AdLookups: a later conversation tries again
                self._remember_failure(
                    (advertiser_id, ad_id), AdReference(advertiser_id=advertiser_id, ad_id=ad_id, unresolved_reason=reason)
                )
            return
        for ad_id, card in list(found.items()):
            if ad_id not in embedded:
                found[ad_id] = self._with_preview(advertiser_id, token, card)
        self.cache.put_many(advertiser_id, found.values())
        for ad_id in misses:
            self._failed_at.pop((advertiser_id, ad_id), None)
            self.memo[(advertiser_id, ad_id)] = found.get(ad_id) or AdReference(
                advertiser_id=advertiser_id,
                ad_id=ad_id,
                unresolved_reason=f"TikTok has no ad {ad_id} in ad account {advertiser_id}, deleted ads and Smart+ included.",
            )

    def _with_preview(self, advertiser_id: str, token: str, card: AdReference) -> AdReference:
        """A preview link for a regular ad, once per ad (cached with the card); Smart+ has no AD preview."""
        if card.is_smart_plus or card.preview_url or card.ad_id is None:
            return card
        try:
            return card.model_copy(update={"preview_url": self.tiktok.preview_link(advertiser_id, token, card.ad_id)})
        except (TikTokApiError, TikTokTransportError):
            return card  # a card without a preview is still a card

    def enrich(self, advertiser_id: str, card: AdReference) -> AdReference:
        """A referral's card completed with names from TikTok; what the referral said wins where TikTok has nothing."""
        if card.ad_id is None:
            return card
        self.warm(advertiser_id, [card.ad_id], embedded=[card.ad_id] if card.preview_url else ())
        found = self.memo[(advertiser_id, card.ad_id)]
        if found.unresolved_reason:
            return card.model_copy(update={"advertiser_id": advertiser_id, "unresolved_reason": found.unresolved_reason})
        merged = found.model_copy(update={"preview_url": card.preview_url or found.preview_url})  # the DM embed link first
        return merged.model_copy(update={"is_smart_plus": card.is_smart_plus or found.is_smart_plus})

    def for_tracking_id(self, route: Route, channel: Channel, account_id: str) -> AdReference:
        """Which ad a tracking ID came from: the one active Instant Messaging ad sending people to this chat account."""
        key = (route.advertiser_id, f"DEST#{channel}#{account_id}")
        if not self._known(key):
            self._failed_at.pop(key, None)
            self.memo[key] = self._destination_card(key, route, channel, account_id)
        return self.memo[key]

    def _destination_card(self, key: tuple[str, str], route: Route, channel: Channel, account_id: str) -> AdReference:
        try:
            token = self.tokens.token(route.advertiser_id)
            ads = self.tiktok.messaging_ads(route.advertiser_id, token)
        except (AdvertiserUnavailable, TikTokApiError, TikTokTransportError) as error:
            if isinstance(error, TikTokApiError):
                self.tokens.rejected(route.advertiser_id, error)
            failed = AdReference(advertiser_id=route.advertiser_id, unresolved_reason=_reason(error))
            self._remember_failure(key, failed)
            return failed
        matching = [ad for ad in ads if _sends_to(ad, channel, account_id, route.display_name)]
        if len(matching) == 1:
            return self._with_preview(
                route.advertiser_id, token, card_from(matching[0], matching[0].ad_id, "single_active_im_ad")
            )
        where = f"this {channel} account ({route.display_name or account_id})"
        if not matching:
            reason = f"No active TikTok Instant Messaging ad sends people to {where}; the tracking ID cannot be mapped to an ad."
        else:
            reason = (
                f"{len(matching)} active Instant Messaging ads send people to {where}; TikTok's tracking ID does not say which."
            )
        return AdReference(
            advertiser_id=route.advertiser_id, unresolved_reason=reason, candidates=tuple(ad.ad_id for ad in matching)
        )


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def _sends_to(ad: TikTokAd, channel: Channel, account_id: str, display_name: str | None) -> bool:
    """An active Instant Messaging ad whose destination is this chat account (a paused ad sends no one)."""
    if ad.operation_status not in (None, "ENABLE"):
        return False
    if channel is Channel.WHATSAPP:
        return bool(ad.phone_number) and _digits(ad.phone_number) == _digits(display_name)
    return ad.page_id == account_id


def _reason(error: Exception) -> str:
    if isinstance(error, AdvertiserUnavailable):
        return str(error)
    if isinstance(error, TikTokApiError):
        return f"TikTok refused the ad lookup (code {error.code}: {error.message}); names will come on a later conversation."
    return "TikTok could not be reached for the ad lookup; names will come on a later conversation."
