"""Token lifecycle with fakes: refresh paths, NEEDS_REAUTH announced once, advertiser tokens on use."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests

from messaging_partner.domain.errors import AdvertiserUnavailable, TikTokApiError
from messaging_partner.domain.models import AccountLinkStatus, AdvertiserAccount, BusinessGrant
from messaging_partner.domain.tokens import (
    REFRESH_RETRY,
    AdvertiserTokenSource,
    advertiser_token_failed,
    business_account,
    refresh_due_tokens,
    token_context,
)
from tests.fakes import FakeAccountStore, FakeCipher, FakePublisher
from tests.unit.test_connections import APP, NOW, grant, stored_business, tiktok
from tests.unit.test_tiktok_client import envelope


def test_refresh_rotates_due_tokens() -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    stored_business(store)
    client, session = tiktok(envelope(0, grant("act-2", "rft-2")))
    report = refresh_due_tokens(APP, store, client, FakeCipher(), publisher, NOW)
    assert report.refreshed == ["biz-1"]
    assert session.calls[0]["json"]["refresh_token"] == "rft-1"
    account = store.businesses["biz-1"]
    assert account.version == 4
    assert (
        FakeCipher().decrypt(
            account.refresh_token_ciphertext, {"purpose": "tiktok-token", "kind": "business", "account": "biz-1"}
        )
        == "rft-2"
    )


def test_refresh_skips_tokens_not_yet_due() -> None:
    store = FakeAccountStore()
    stored_business(store, expires_in_hours=3)
    assert refresh_due_tokens(APP, store, tiktok()[0], FakeCipher(), FakePublisher(), NOW).due == 0


def test_losing_the_race_keeps_the_winner_token() -> None:
    store = FakeAccountStore(race_lost=True)
    stored_business(store)
    report = refresh_due_tokens(APP, store, tiktok(envelope(0, grant("act-2", "rft-2")))[0], FakeCipher(), FakePublisher(), NOW)
    assert report.lost_race == ["biz-1"]
    assert store.businesses["biz-1"].version == 3


@pytest.mark.parametrize("code", [40103, 40107])
def test_dead_refresh_token_needs_reauth(code: int) -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    stored_business(store)
    report = refresh_due_tokens(APP, store, tiktok(envelope(code))[0], FakeCipher(), publisher, NOW)
    assert report.needs_reauth == ["biz-1"]
    assert "connect it again" in store.reauth["business:biz-1"]
    [event] = publisher.published
    assert (event.detail_type, event.account_id, event.code) == ("AccountNeedsReauth", "biz-1", code)


def test_other_failures_are_left_for_the_next_run() -> None:
    store = FakeAccountStore()
    stored_business(store)
    report = refresh_due_tokens(APP, store, tiktok(envelope(40002), envelope(40002))[0], FakeCipher(), FakePublisher(), NOW)
    assert report.failed == {"biz-1": "code 40002"}
    assert store.reauth == {}


@pytest.mark.parametrize(("code", "marked"), [(40105, True), (40106, True), (40100, False), (40102, False)])
def test_advertiser_token_rejected_on_use(code: int, marked: bool) -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    account = AdvertiserAccount(advertiser_id="adv-1", workspace="acme", token_ciphertext="x", connected_at_ms=1)
    assert advertiser_token_failed(TikTokApiError(code, "m"), account, store, publisher) is marked
    assert ("advertiser:adv-1" in store.reauth) is marked
    assert len(publisher.published) == (1 if marked else 0)


def test_refresh_retries_what_is_safe_to_repeat_within_the_call() -> None:
    store = FakeAccountStore()
    stored_business(store)
    client, session = tiktok(envelope(50000), requests.ConnectionError("reset"), envelope(0, grant("act-2", "rft-2")))
    report = refresh_due_tokens(APP, store, client, FakeCipher(), FakePublisher(), NOW)
    assert report.refreshed == ["biz-1"]
    assert len(session.calls) == 1 + REFRESH_RETRY.retries


def test_one_accounts_failure_does_not_stop_the_others() -> None:
    store = FakeAccountStore()
    stored_business(store)
    second = business_account("biz-2", "acme", BusinessGrant.model_validate(grant()), FakeCipher(), NOW, version=1)
    store.save_business(second.model_copy(update={"access_expires_at_ms": store.businesses["biz-1"].access_expires_at_ms}))
    client, _ = tiktok(envelope(40002), envelope(0, grant("act-2", "rft-2")))
    report = refresh_due_tokens(APP, store, client, FakeCipher(), FakePublisher(), NOW)
    assert (report.failed, report.refreshed) == ({"biz-1": "code 40002"}, ["biz-2"])


@dataclass
class CountingAccounts(FakeAccountStore):
    reads: list[str] = field(default_factory=list)

    def get_advertiser(self, advertiser_id: str) -> tuple[AdvertiserAccount, list[object]] | None:
        self.reads.append(advertiser_id)
        return super().get_advertiser(advertiser_id)


def connected(store: FakeAccountStore, status: AccountLinkStatus = AccountLinkStatus.ACTIVE, at_ms: int = 1) -> None:
    ciphertext = FakeCipher().encrypt("adv-token", token_context("advertiser", "adv-1"))
    store.save_advertiser(
        AdvertiserAccount(
            advertiser_id="adv-1", workspace="acme", token_ciphertext=ciphertext, connected_at_ms=at_ms, status=status
        )
    )


def test_advertiser_token_is_read_and_decrypted_once_per_container_minutes() -> None:
    store = CountingAccounts()
    connected(store)
    tokens = AdvertiserTokenSource(store, FakeCipher(), FakePublisher())
    assert [tokens.token("adv-1"), tokens.token("adv-1")] == ["adv-token", "adv-token"]
    assert store.reads == ["adv-1"]


def test_an_unconnected_advertiser_is_looked_up_again_once_connected() -> None:
    store = CountingAccounts()
    tokens = AdvertiserTokenSource(store, FakeCipher(), FakePublisher())
    with pytest.raises(AdvertiserUnavailable, match="not connected"):
        tokens.token("adv-1")
    connected(store)
    assert tokens.token("adv-1") == "adv-token"  # the failure was not remembered


def test_an_advertiser_needing_reauthorization_gives_no_token() -> None:
    store = CountingAccounts()
    connected(store, AccountLinkStatus.NEEDS_REAUTH)
    with pytest.raises(AdvertiserUnavailable, match="needs re-authorization"):
        AdvertiserTokenSource(store, FakeCipher(), FakePublisher()).token("adv-1")


@pytest.mark.parametrize(("code", "marked"), [(40105, True), (40100, False)])
def test_a_rejected_token_is_forgotten_and_a_revoked_one_announced(code: int, marked: bool) -> None:
    store, publisher = CountingAccounts(), FakePublisher()
    connected(store)
    tokens = AdvertiserTokenSource(store, FakeCipher(), publisher)
    tokens.token("adv-1")
    tokens.rejected("adv-1", TikTokApiError(code, "m"))
    assert ("advertiser:adv-1" in store.reauth) is marked
    assert [e.account_id for e in publisher.published] == (["adv-1"] if marked else [])
    if marked:
        with pytest.raises(AdvertiserUnavailable, match="needs re-authorization"):
            tokens.token("adv-1")
    else:
        assert tokens.token("adv-1") == "adv-token"
    assert store.reads == ["adv-1", "adv-1"]  # read again after a rejection


def test_a_token_refused_after_the_ad_account_was_connected_again_marks_nothing() -> None:
    store, publisher = CountingAccounts(), FakePublisher()
    connected(store)
    tokens = AdvertiserTokenSource(store, FakeCipher(), publisher)
    tokens.token("adv-1")  # remembered for minutes
    connected(store, at_ms=2)  # the owner connects it again: a new token
    assert tokens.rejected("adv-1", TikTokApiError(40105, "Access token invalid")) is False
    assert (store.advertisers["adv-1"].status, publisher.published) == (AccountLinkStatus.ACTIVE, [])
    assert tokens.token("adv-1") == "adv-token"  # read again: the new one


def test_a_dead_refresh_token_of_a_rotated_generation_marks_nothing() -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    stored_business(store)

    refused = tiktok(envelope(40107))[0]
    original = store.get_business

    def read_then_rotate(business_id: str) -> object:  # another refresher rotates right after this read
        account = original(business_id)
        store.businesses[business_id] = account.model_copy(update={"version": account.version + 1})  # type: ignore[union-attr]
        return account

    store.get_business = read_then_rotate  # type: ignore[method-assign]
    report = refresh_due_tokens(APP, store, refused, FakeCipher(), publisher, NOW)
    assert (report.needs_reauth, report.lost_race, publisher.published) == ([], ["biz-1"], [])
    assert store.businesses["biz-1"].status is AccountLinkStatus.ACTIVE
