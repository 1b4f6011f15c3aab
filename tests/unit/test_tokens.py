"""Token lifecycle with fakes: refresh paths, NEEDS_REAUTH announced once, advertiser tokens on use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from messaging_partner.domain.errors import AdvertiserUnavailable, TikTokApiError
from messaging_partner.domain.models import AccountLinkStatus, AdvertiserAccount, BusinessGrant
from messaging_partner.domain.tokens import (
    REFRESH_CLAIM_MS,
    REFRESH_RETRY,
    AdvertiserTokenSource,
    advertiser_token_failed,
    business_account,
    refresh_due_tokens,
    token_context,
)
from tests.fakes import FakeAccountStore, FakeCipher, FakePublisher
from tests.unit.test_connections import APP, NOW, grant, stored_business, tiktok
from tests.unit.test_tiktok_client import envelope, refused_connection


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
    assert list(report.failed) == ["biz-1"]
    assert "code 40002" in report.failed["biz-1"]
    assert store.reauth == {}
    account = store.businesses["biz-1"]
    assert (account.status, account.version, account.refresh_claimed_until_ms) == (AccountLinkStatus.ACTIVE, 3, None)
    assert account.refresh_issue == report.failed["biz-1"]  # the reason stays on the item for a person to read
    assert account.refresh_unconfirmed_since_ms is None  # TikTok answered without acting: nothing to settle


@pytest.mark.parametrize(("code", "marked"), [(40105, True), (40106, True), (40100, False), (40102, False)])
def test_advertiser_token_rejected_on_use(code: int, marked: bool) -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    account = AdvertiserAccount(advertiser_id="adv-1", workspace="acme", token_ciphertext="x", connected_at_ms=1)
    assert advertiser_token_failed(TikTokApiError(code, "m"), account, store, publisher) is marked
    assert ("advertiser:adv-1" in store.reauth) is marked
    assert len(publisher.published) == (1 if marked else 0)


def test_refresh_retries_only_what_tiktok_cannot_have_acted_on() -> None:
    store = FakeAccountStore()
    stored_business(store)
    client, session = tiktok(envelope(40100), refused_connection(), envelope(0, grant("act-2", "rft-2")))
    report = refresh_due_tokens(APP, store, client, FakeCipher(), FakePublisher(), NOW)
    assert report.refreshed == ["biz-1"]
    assert len(session.calls) == 1 + REFRESH_RETRY.retries
    assert [call["json"]["refresh_token"] for call in session.calls] == ["rft-1"] * 3


LOST_ANSWERS = [
    requests.ReadTimeout("read timed out"),  # TikTok hung, or answered too late
    requests.ConnectionError("Connection aborted: RemoteDisconnected"),
    envelope(50000),  # a system error: TikTok does not say whether it rotated first
    envelope(0, {"access_token": "act-2", "open_id": "biz-1"}),  # an answer without the new refresh token
]


@pytest.mark.parametrize("lost", LOST_ANSWERS)
def test_a_lost_answer_is_not_repeated_and_the_account_stays_active(lost: Any) -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    stored_business(store)
    client, session = tiktok(lost, envelope(40107))  # a repeat would meet the rotated token's 40107
    report = refresh_due_tokens(APP, store, client, FakeCipher(), publisher, NOW)
    assert len(session.calls) == 1
    assert (report.refreshed, report.needs_reauth, report.failed, list(report.unresolved)) == ([], [], {}, ["biz-1"])
    account = store.businesses["biz-1"]
    assert (account.status, account.version, account.refresh_claimed_until_ms) == (AccountLinkStatus.ACTIVE, 3, None)
    assert account.refresh_unconfirmed_since_ms == int(NOW * 1000)
    assert "next run" in str(account.refresh_issue)
    assert "act-2" not in str(account.refresh_issue)  # what TikTok answered names fields, never tokens
    assert (store.reauth, publisher.published) == ({}, [])


def test_the_next_run_settles_a_lost_answer_by_presenting_the_stored_token_once() -> None:
    store = FakeAccountStore()
    stored_business(store)
    refresh_due_tokens(APP, store, tiktok(requests.ReadTimeout("read timed out"))[0], FakeCipher(), FakePublisher(), NOW)
    client, session = tiktok(envelope(0, grant("act-2", "rft-2")))
    report = refresh_due_tokens(APP, store, client, FakeCipher(), FakePublisher(), NOW + 3600)
    assert (report.refreshed, report.resolved, report.unresolved) == (["biz-1"], ["biz-1"], {})
    assert session.calls[0]["json"]["refresh_token"] == "rft-1"  # TikTok had not rotated: the stored one worked
    account = store.businesses["biz-1"]
    assert (account.version, account.refresh_unconfirmed_since_ms, account.refresh_issue) == (4, None, None)


def test_a_refusal_after_a_lost_answer_needs_reauth_and_says_why() -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    stored_business(store)
    refresh_due_tokens(APP, store, tiktok(requests.ReadTimeout("read timed out"))[0], FakeCipher(), publisher, NOW)
    again = refresh_due_tokens(APP, store, tiktok(requests.ReadTimeout("read timed out"))[0], FakeCipher(), publisher, NOW + 3600)
    assert list(again.unresolved) == ["biz-1"]
    assert store.businesses["biz-1"].refresh_unconfirmed_since_ms == int(NOW * 1000)  # the first lost answer counts
    report = refresh_due_tokens(APP, store, tiktok(envelope(40107))[0], FakeCipher(), publisher, NOW + 7200)
    assert (report.needs_reauth, report.resolved) == (["biz-1"], ["biz-1"])  # TikTok's explicit answer settles it
    reason = store.reauth["business:biz-1"]
    assert "code 40107" in reason
    assert "was lost" in reason
    assert "2025-11-22T08:26:40Z" in reason
    [event] = publisher.published
    assert (event.detail_type, event.code) == ("AccountNeedsReauth", 40107)


def test_a_refresher_holding_the_claim_keeps_others_from_presenting_the_token() -> None:
    store = FakeAccountStore()
    stored_business(store)
    held = store.businesses["biz-1"].model_copy(update={"refresh_claimed_until_ms": int(NOW * 1000) + 60_000})
    store.save_business(held)
    client, session = tiktok()
    report = refresh_due_tokens(APP, store, client, FakeCipher(), FakePublisher(), NOW)
    assert (report.lost_race, session.calls) == (["biz-1"], [])


def test_a_claim_that_ran_out_unrecorded_counts_as_a_lost_answer() -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    stored_business(store)
    crashed = int(NOW * 1000) - 3_600_000  # a run that stopped mid-call an hour ago
    store.save_business(store.businesses["biz-1"].model_copy(update={"refresh_claimed_until_ms": crashed + REFRESH_CLAIM_MS}))
    report = refresh_due_tokens(APP, store, tiktok(envelope(40107))[0], FakeCipher(), publisher, NOW)
    assert (report.needs_reauth, report.resolved) == (["biz-1"], ["biz-1"])
    assert "was lost" in store.reauth["business:biz-1"]


def second_business(store: FakeAccountStore, ciphertext: str | None = None) -> None:
    second = business_account("biz-2", "acme", BusinessGrant.model_validate(grant()), FakeCipher(), NOW, version=1)
    update: dict[str, Any] = {"access_expires_at_ms": store.businesses["biz-1"].access_expires_at_ms}
    if ciphertext is not None:
        update["refresh_token_ciphertext"] = ciphertext
    store.save_business(second.model_copy(update=update))


def test_an_undecryptable_token_is_flagged_and_the_run_goes_on() -> None:
    store, publisher = FakeAccountStore(), FakePublisher()
    stored_business(store)
    # biz-1's refresh token, stored under another account's encryption context: KMS's InvalidCiphertextException.
    broken = store.businesses["biz-1"].model_copy(
        update={"refresh_token_ciphertext": FakeCipher().encrypt("rft-1", token_context("business", "biz-9"))}
    )
    store.save_business(broken)
    second_business(store)
    client, session = tiktok(envelope(0, grant("act-2", "rft-2")))
    report = refresh_due_tokens(APP, store, client, FakeCipher(), publisher, NOW)
    assert (list(report.failed), report.refreshed) == (["biz-1"], ["biz-2"])
    assert "does not decrypt" in report.failed["biz-1"]
    assert len(session.calls) == 1  # only biz-2's token went to TikTok
    flagged = store.businesses["biz-1"]
    assert (flagged.status, flagged.refresh_issue) == (AccountLinkStatus.ACTIVE, report.failed["biz-1"])
    assert (store.reauth, publisher.published) == ({}, [])  # no TikTok answer: no NEEDS_REAUTH


def test_one_accounts_failure_does_not_stop_the_others() -> None:
    store = FakeAccountStore()
    stored_business(store)
    second_business(store)
    client, _ = tiktok(envelope(40002), envelope(0, grant("act-2", "rft-2")))
    report = refresh_due_tokens(APP, store, client, FakeCipher(), FakePublisher(), NOW)
    assert (list(report.failed), report.refreshed) == (["biz-1"], ["biz-2"])


def test_an_unexpected_error_fails_its_account_only() -> None:
    store = FakeAccountStore()
    stored_business(store)
    second_business(store)
    original = store.get_business

    def read(business_id: str) -> Any:
        if business_id == "biz-1":
            raise RuntimeError("ProvisionedThroughputExceededException")
        return original(business_id)

    store.get_business = read  # type: ignore[method-assign]
    report = refresh_due_tokens(APP, store, tiktok(envelope(0, grant("act-2", "rft-2")))[0], FakeCipher(), FakePublisher(), NOW)
    assert report.failed == {"biz-1": "RuntimeError: ProvisionedThroughputExceededException"}
    assert report.refreshed == ["biz-2"]


def test_new_tokens_that_cannot_be_stored_are_reported_and_the_claim_kept() -> None:
    store = FakeAccountStore()
    stored_business(store)

    def unavailable(account: Any, expected_version: int) -> bool:
        raise RuntimeError("InternalServerError")

    store.rotate_business_tokens = unavailable  # type: ignore[method-assign]
    report = refresh_due_tokens(APP, store, tiktok(envelope(0, grant("act-2", "rft-2")))[0], FakeCipher(), FakePublisher(), NOW)
    assert "could not be stored" in report.failed["biz-1"]
    # The claim outlives the run: the next run after it treats the refresh as a lost answer.
    assert store.businesses["biz-1"].refresh_claimed_until_ms == int(NOW * 1000) + REFRESH_CLAIM_MS


def test_accounts_the_run_has_no_time_for_wait_for_the_next_run() -> None:
    store = FakeAccountStore()
    stored_business(store)
    second_business(store)
    client, session = tiktok()
    report = refresh_due_tokens(APP, store, client, FakeCipher(), FakePublisher(), NOW, seconds_left=lambda: 0.4)
    assert (report.deferred, session.calls) == (["biz-1", "biz-2"], [])
    assert report.counts()["deferred"] == 2


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
