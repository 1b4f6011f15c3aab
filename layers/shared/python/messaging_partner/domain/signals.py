"""Signals back to TikTok: which fire, once each, and what becomes of them. Never message text.

For conversations routed to an ad account:
- `conversation`: once per conversation that came from TikTok (a DM ad, a tracking ID, a
  tiktok.me link), with the tracking ID or the ad id;
- keyword signals: the first customer message of a conversation with a keyword of the ad
  account's list fires its signal; each (conversation, signal) fires at most once, ever;
  with or without a tracking ID (carried when known);
- outcomes: an operator's TikTok standard event (a purchase, a qualified lead) with a value,
  once per outcome id.
Only customer messages are matched: echoes, reads, statuses, EEA-stripped events, edits,
deletions, reactions and system notices fire nothing.

A keyword signal belongs to the ad account whose list fired it: a conversation that started
while its chat account was linked elsewhere (or nowhere) sends nothing of this list's.

Its conversation is read once per batch (its signals so far, tracking ID and ad); a signal
not yet sent is sent with the batch's others for the same ad account, then recorded with
one write, conditioned on the record being what was read: sent, failed (TikTok refused it,
in TikTok's words) or skipped (why it was not sent). Sent is final; a failed or skipped
signal is tried again by the next message that fires it (after the ad account was
reconnected, say). The event id is a hash of ad account, conversation and signal, so TikTok
drops a repeat: two workers racing on one signal, or a retry after a crash between sending
and recording, cost a second send but never a second event, and only one record is written.
Throttling, TikTok's system errors, timeouts and a token replaced meanwhile record nothing
and fail the SQS record, so SQS retries it (then SignalDLQ).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .domain_events import ConversationAttributed, MessageReceived, OutcomeReported, SignalInput, stable_event_id
from .errors import (
    ADVERTISER_TOKEN_REVOKED,
    SYSTEM_ERRORS,
    THROTTLED,
    AdvertiserUnavailable,
    OutcomeLimitReached,
    TikTokApiError,
    TikTokTransportError,
)
from .keywords import CONVERSATION_SIGNAL, KeywordMatcher
from .models import (
    Conversation,
    ConversationSignals,
    ConversationSource,
    MessageKind,
    OutgoingSignal,
    SignalKind,
    SignalRecord,
    SignalStatus,
)
from .ports import AdvertiserTokens, KeywordLists, Router, SignalInputs, SignalLedger, TikTokSignals

# TikTok's standard events for web, offline and CRM (reference/tiktok.md 5b): what an outcome may be.
STANDARD_EVENTS = frozenset(
    {
        "AddPaymentInfo",
        "AddToCart",
        "AddToWishlist",
        "ApplicationApproval",
        "CompleteRegistration",
        "Contact",
        "CustomizeProduct",
        "Download",
        "FindLocation",
        "InitiateCheckout",
        "Lead",
        "Purchase",
        "Schedule",
        "Search",
        "StartTrial",
        "SubmitApplication",
        "Subscribe",
        "ViewContent",
    }
)
MAX_EVENTS_PER_REQUEST = 1000  # Events API 2.0 refuses a larger request whole
MAX_OUTCOMES_PER_CONVERSATION = 100  # they live on the conversation's item, which DynamoDB caps at 400 KB
MAX_VALUE_DECIMALS = 6
FROM_TIKTOK = frozenset({ConversationSource.TIKTOK_AD, ConversationSource.TIKTOK_SHORT_LINK})


@dataclass(frozen=True)
class SignalEvents:
    """Which TikTok event carries each signal: the template's SignalEvents parameter (`*`: any other keyword)."""

    by_signal: Mapping[str, str]

    def __post_init__(self) -> None:
        unknown = sorted({event for event in self.by_signal.values() if event not in STANDARD_EVENTS})
        if unknown or "*" not in self.by_signal:
            raise ValueError(
                f"SignalEvents must map signals to TikTok standard events and name one for '*' (got {dict(self.by_signal)}); "
                f"unknown: {', '.join(unknown) or 'none'}. Standard events: {', '.join(sorted(STANDARD_EVENTS))}."
            )

    def for_signal(self, signal: str) -> str:
        return self.by_signal.get(signal) or self.by_signal["*"]


def signal_event_id(advertiser_id: str, conversation_key: str, signal: str) -> str:
    return stable_event_id("Signal", advertiser_id, conversation_key, signal)


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class _Wanted:
    signal: str
    kind: SignalKind
    event: str
    occurred_at_ms: int
    aliases: tuple[str, ...] = ()
    advertiser_id: str | None = None  # the ad account whose rule wants it; None: the conversation's, whichever


@dataclass
class _Pending:
    conversation_key: str
    signal: OutgoingSignal
    seen: SignalRecord | None  # what the ledger held when it was read: the write is conditioned on it
    input_ids: set[str]  # the SQS records that wait on it


@dataclass
class SignalWorker:
    """One SQS batch of signal inputs: ``take`` each, ``send`` once, then ask which inputs must be retried."""

    router: Router
    keyword_lists: KeywordLists
    ledger: SignalLedger
    tokens: AdvertiserTokens
    tiktok: TikTokSignals
    events: SignalEvents
    matchers: dict[tuple[str, int], KeywordMatcher] = field(default_factory=dict)  # per container: each list's latest
    clock: Callable[[], float] = time.time
    outcomes: Counter[str] = field(default_factory=Counter)
    requests: int = 0  # Events API requests this batch made
    _known: dict[str, ConversationSignals | None] = field(default_factory=dict)  # this batch's reads
    _pending: dict[str, dict[str, _Pending]] = field(default_factory=dict)  # advertiser -> event id -> signal
    _retry: set[str] = field(default_factory=set)

    # ------------------------------------------------------------------ deciding
    def take(self, input_id: str, signal_input: SignalInput) -> None:
        if isinstance(signal_input, ConversationAttributed):
            self._conversation_signal(input_id, signal_input.conversation)
        elif isinstance(signal_input, MessageReceived):
            self._keyword_signals(input_id, signal_input)
        else:
            self._outcome_signal(input_id, signal_input)

    def _conversation_signal(self, input_id: str, conversation: Conversation) -> None:
        if conversation.source not in FROM_TIKTOK or not conversation.advertiser_id:
            self.outcomes["not_from_tiktok" if conversation.advertiser_id else "unrouted"] += 1
            return
        wanted = _Wanted(
            CONVERSATION_SIGNAL,
            SignalKind.CONVERSATION,
            self.events.for_signal(CONVERSATION_SIGNAL),
            conversation.started_at_ms,
            advertiser_id=conversation.advertiser_id,
        )
        self._consider(input_id, conversation.conversation_key, wanted)

    def _keyword_signals(self, input_id: str, received: MessageReceived) -> None:
        message = received.message
        if message.kind is not MessageKind.MESSAGE:
            self.outcomes[f"not_a_customer_message_{message.kind}"] += 1
            return
        route = self.router.route(message.channel, message.business_account_id)
        keywords = self.keyword_lists.current(route.advertiser_id) if route else None
        if route is None or keywords is None or not keywords.keywords:
            self.outcomes["unrouted" if route is None else "no_keywords"] += 1
            return
        matcher = self.matchers.get((keywords.advertiser_id, keywords.version))
        if matcher is None:
            for older in [key for key in self.matchers if key[0] == keywords.advertiser_id]:
                del self.matchers[older]  # a replaced list's matcher is never asked again
            matcher = self.matchers[(keywords.advertiser_id, keywords.version)] = KeywordMatcher(keywords.keywords)
        signals = matcher.signals_in(message.text)
        if not signals:
            self.outcomes["no_match"] += 1
            return
        for signal in sorted(signals):
            event = self.events.for_signal(signal)
            wanted = _Wanted(signal, SignalKind.KEYWORD, event, message.sent_at_ms, message.customer_aliases, route.advertiser_id)
            self._consider(input_id, received.conversation_key, wanted)

    def _outcome_signal(self, input_id: str, outcome: OutcomeReported) -> None:
        wanted = _Wanted(f"outcome:{outcome.outcome_id}", SignalKind.OUTCOME, outcome.event, outcome.reported_at_ms)
        self._consider(input_id, outcome.conversation_key, wanted)

    def _consider(self, input_id: str, conversation_key: str, wanted: _Wanted) -> None:
        """Queues the signal unless its conversation already recorded it; one read per conversation and batch."""
        if conversation_key not in self._known:
            self._known[conversation_key] = self.ledger.signals_of(conversation_key)
        known = self._known[conversation_key]
        if known is None:
            self.outcomes["no_conversation"] += 1
            return
        existing = known.records.get(wanted.signal)
        if existing is not None and existing.status is SignalStatus.SENT:
            self.outcomes["already_signalled"] += 1
            return
        # Failed or skipped before (a refusal, an ad account to reconnect): this later trigger tries again.
        conversation, advertiser_id = known.conversation, known.conversation.advertiser_id
        if not advertiser_id or wanted.advertiser_id not in (None, advertiser_id):
            # The chat account was linked to another ad account, or none, when this conversation started:
            # its signals are not this list's to send, nor this event set's to receive.
            self.outcomes["belongs_to_another_ad_account"] += 1
            return
        record = SignalRecord(
            signal=wanted.signal,
            kind=wanted.kind,
            event=existing.event if existing else wanted.event,  # as first chosen: an outcome's as the operator posted it
            status=SignalStatus.QUEUED,
            event_id=signal_event_id(advertiser_id, conversation_key, wanted.signal),
            at=iso(self._now_ms()),
            value=existing.value if existing else None,
            currency=existing.currency if existing else None,
        )
        outgoing = OutgoingSignal(
            advertiser_id=advertiser_id,
            channel=conversation.channel,
            customer_ids=tuple(dict.fromkeys((conversation.customer_id, *wanted.aliases))),
            record=record,
            occurred_at_ms=wanted.occurred_at_ms,
            tracking_id=conversation.tracking_id,
            ad_id=conversation.ad.ad_id if conversation.ad else None,
            short_link_ref=conversation.referral.tracking_ref if conversation.referral else None,
        )
        pending = self._pending.setdefault(advertiser_id, {}).setdefault(
            record.event_id, _Pending(conversation_key, outgoing, existing, set())
        )
        pending.input_ids.add(input_id)

    # ------------------------------------------------------------------ sending
    def send(self) -> None:
        """One Events API request per ad account (per 1,000 signals); then every signal is recorded or left to retry."""
        for advertiser_id, pending in self._pending.items():
            self._send_for(advertiser_id, list(pending.values()))
        self._pending.clear()

    def _send_for(self, advertiser_id: str, pending: list[_Pending]) -> None:
        try:
            token, event_set = self.tokens.token(advertiser_id), self.tokens.event_set_id(advertiser_id)
        except AdvertiserUnavailable as error:
            self._settle_all(pending, SignalStatus.SKIPPED, str(error))
            return
        if event_set is None:
            reason = (
                "The ad account has no message event set this app may use: grant CTX Events Management "
                "and connect the ad account again."
            )
            self._settle_all(pending, SignalStatus.FAILED, reason)
            return
        for start in range(0, len(pending), MAX_EVENTS_PER_REQUEST):
            chunk = pending[start : start + MAX_EVENTS_PER_REQUEST]
            self.requests += 1
            try:
                self.tiktok.send(token, event_set, [p.signal for p in chunk])
            except TikTokTransportError:
                self._retry_later(chunk, "unreachable")
                continue
            except TikTokApiError as error:
                if error.code in THROTTLED or error.code in SYSTEM_ERRORS:
                    self._retry_later(chunk, f"tiktok_{error.code}")
                elif error.code in ADVERTISER_TOKEN_REVOKED and not self.tokens.rejected(advertiser_id, error):
                    self._retry_later(chunk, "token_replaced")  # connected again meanwhile: the retry uses the new token
                else:
                    self._settle_all(chunk, SignalStatus.FAILED, _refusal(error))
                continue
            self._settle_all(chunk, SignalStatus.SENT, None)

    def _retry_later(self, pending: list[_Pending], why: str) -> None:
        """Nothing is recorded: the SQS retry sends again, and TikTok drops what it already has."""
        self.outcomes[f"retry_{why}"] += len(pending)
        for item in pending:
            self._retry |= item.input_ids

    def _settle_all(self, pending: list[_Pending], status: SignalStatus, reason: str | None) -> None:
        for item in pending:
            settled = item.signal.record.model_copy(update={"status": status, "reason": reason, "at": iso(self._now_ms())})
            recorded = self.ledger.record(item.conversation_key, settled, over=item.seen)
            self.outcomes[f"{settled.kind}_{status}" if recorded else "recorded_by_another_worker"] += 1

    def must_retry(self, input_id: str) -> bool:
        return input_id in self._retry

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


class InvalidOutcome(Exception):
    """An outcome the admin API refuses, with what to send instead."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class OutcomeRequest:
    outcome_id: str
    event: str
    value: float | None
    currency: str | None


_OUTCOME_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def outcome_request(body: Any) -> OutcomeRequest:
    """`{"outcome_id", "event", "value", "currency"}`, checked; InvalidOutcome says what is wrong."""
    if not isinstance(body, dict):
        raise InvalidOutcome('The body must be {"outcome_id": "...", "event": "Purchase", "value": 19.9, "currency": "USD"}.')
    outcome_id, event, value, currency = (body.get(k) for k in ("outcome_id", "event", "value", "currency"))
    if not isinstance(outcome_id, str) or not _OUTCOME_ID.fullmatch(outcome_id):
        raise InvalidOutcome("outcome_id must be 1 to 128 letters, digits or . _ : - (your own id for this outcome).")
    if not isinstance(event, str) or event not in STANDARD_EVENTS:
        raise InvalidOutcome(f"event must be a TikTok standard event: {', '.join(sorted(STANDARD_EVENTS))}.")
    if value is not None and not _an_amount(value):
        raise InvalidOutcome(
            f"value must be a number from 0 to 10^12 with at most {MAX_VALUE_DECIMALS} decimals,"
            " in the currency's units (19.9 for 19.90)."
        )
    if value is not None and (not isinstance(currency, str) or not _CURRENCY.fullmatch(currency)):
        raise InvalidOutcome("A value needs its currency, an ISO 4217 code such as USD or EUR.")
    if value is None and currency is not None:
        raise InvalidOutcome("A currency without a value says nothing; send both or neither.")
    return OutcomeRequest(outcome_id, str(event), float(value) if value is not None else None, currency)


def _an_amount(value: Any) -> bool:
    """A number DynamoDB and TikTok both take as money: 0 to 10^12, at most MAX_VALUE_DECIMALS decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e12:
        return False
    exponent = Decimal(repr(value)).as_tuple().exponent  # 1e-200 would underflow DynamoDB's numbers
    return isinstance(exponent, int) and exponent >= -MAX_VALUE_DECIMALS


def report_outcome(
    conversation: Conversation, request: OutcomeRequest, ledger: SignalLedger, inputs: SignalInputs, now_ms: int
) -> tuple[SignalRecord, bool]:
    """Queues the outcome for the signal worker, once per outcome id: (its record, whether this call queued it)."""
    if not conversation.advertiser_id:
        raise InvalidOutcome(
            "This conversation is not routed to a TikTok ad account (its chat account was not linked when it "
            "started), so there is no event set to send the outcome to.",
            status=409,
        )
    signal = f"outcome:{request.outcome_id}"
    record = SignalRecord(
        signal=signal,
        kind=SignalKind.OUTCOME,
        event=request.event,
        status=SignalStatus.QUEUED,
        event_id=signal_event_id(conversation.advertiser_id, conversation.conversation_key, signal),
        at=iso(now_ms),
        value=request.value,
        currency=request.currency,
    )
    try:
        existing = ledger.queue(conversation.conversation_key, record, MAX_OUTCOMES_PER_CONVERSATION)
    except OutcomeLimitReached:
        raise InvalidOutcome(
            f"This conversation already has {MAX_OUTCOMES_PER_CONVERSATION} outcomes, as many as one conversation keeps.",
            status=409,
        ) from None
    if existing is None or existing.status is SignalStatus.QUEUED:  # queued again if a first call could not enqueue
        shown = existing or record
        reported = OutcomeReported.for_outcome(
            conversation.conversation_key, request.outcome_id, shown.event, shown.value, shown.currency, now_ms
        )
        inputs.send([reported])
    return existing or record, existing is None


def _refusal(error: TikTokApiError) -> str:
    if error.code in ADVERTISER_TOKEN_REVOKED:
        return f"TikTok no longer accepts this ad account's token (code {error.code}): reconnect the ad account."
    return f"TikTok refused the signal (code {error.code}): {error.message}"
