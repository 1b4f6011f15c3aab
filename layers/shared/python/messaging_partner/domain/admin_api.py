"""What the admin API takes and answers: its limits, its bodies, the moments its queries name, its answers' shapes.

The bodies are pydantic models, so the API's validation refuses what does not fit before a
route runs and the OpenAPI document shows each field with its limits. The keyword list and
the outcome are checked by the rules that own them (`keyword_rules`, `outcome_request`),
whose sentences say what to send; the fields repeat those rules only so the document shows
them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from .connections import LINK_TTL_SECONDS, MAX_LINK_TTL_SECONDS, WORKSPACE
from .keywords import MAX_KEYWORD_LENGTH, MAX_KEYWORDS, SIGNAL_NAME, InvalidKeywords, keyword_rules
from .models import (
    AccountLink,
    AccountLinkStatus,
    ConnectionKind,
    Conversation,
    ConversationEvent,
    KeywordRule,
    SignalRecord,
)
from .signals import STANDARD_EVENTS, InvalidOutcome, OutcomeRequest, outcome_request

# Ids are TikTok's and the platforms' (19-digit ad accounts, 15-digit phone number ids, open_ids of
# about 40 characters): 128 leaves room and keeps every DynamoDB key far below its 2,048-byte limit.
MAX_ID_LENGTH = 128
# A conversation key is <channel>#<chat account id>#<customer id>; its '#'s travel as %23.
MAX_CONVERSATION_KEY_LENGTH = 512
MAX_DISPLAY_NAME_LENGTH = 200
# A cursor is the base64 of the index position DynamoDB gave (four short keys); ours are under 1,000.
MAX_CURSOR_LENGTH = 2048
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
# A full keyword list (1,000 keywords of 80 characters) as JSON with every character escaped is
# under 1 MiB; nothing else the admin API takes comes close.
MAX_BODY_BYTES = 1024 * 1024
MAX_MOMENT_LENGTH = 40
MAX_EPOCH_MS = 2**53  # the largest whole number a JavaScript client reads exactly; year 287,396

MOMENT_HELP = "takes an ISO date (2026-11-22), an ISO date-time (2026-11-22T10:00:00Z) or epoch milliseconds"


def moment_ms(value: str, end_of_day: bool = False) -> int:
    """Epoch milliseconds from epoch milliseconds, an ISO date (with end_of_day, its last millisecond) or date-time."""
    if value.isascii() and value.isdigit():  # "²".isdigit() is true, and int() refuses it
        if len(value) > 16 or int(value) > MAX_EPOCH_MS:
            raise ValueError(f"{MOMENT_HELP}; epoch milliseconds go up to {MAX_EPOCH_MS:,}")
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if value.isascii() else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(MOMENT_HELP)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and len(value) == 10:
        moment += timedelta(days=1, milliseconds=-1)
    return max(0, int(moment.timestamp() * 1000))


def _start(value: str) -> int:
    return moment_ms(value)


def _end(value: str) -> int:
    return moment_ms(value, end_of_day=True)


_Moment = StringConstraints(min_length=1, max_length=MAX_MOMENT_LENGTH)
MomentFrom = Annotated[str, _Moment, AfterValidator(_start)]
MomentTo = Annotated[str, _Moment, AfterValidator(_end)]


class LinkRequest(BaseModel):
    """The body of PUT /admin/advertisers/{advertiser_id}/links/{channel}/{account_id} (optional)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    display_name: str | None = Field(
        default=None,
        max_length=MAX_DISPLAY_NAME_LENGTH,
        description=f"How people know the chat account (a WhatsApp number as written, a Page name); "
        f"at most {MAX_DISPLAY_NAME_LENGTH} characters.",
        examples=["+1 555 078 3881"],
    )


Workspace = Annotated[
    str,
    Field(
        pattern=f"^{WORKSPACE.pattern}$",
        description="Your tenant: 1 to 128 characters, letters, digits and . _ : @ -, starting with a letter or digit.",
        examples=["acme"],
    ),
]


class ConnectLinkRequest(BaseModel):
    """The body of POST /admin/connect-links."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: ConnectionKind = Field(
        strict=False,  # the value as JSON sends it, "advertiser" or "business"
        description="advertiser: TikTok ad accounts; business: a Business Account's DMs.",
    )
    workspace: Workspace
    expires_in_seconds: int = Field(
        default=LINK_TTL_SECONDS,
        ge=60,
        le=MAX_LINK_TTL_SECONDS,
        description=f"How long the link works (default {LINK_TTL_SECONDS}, at most {MAX_LINK_TTL_SECONDS}).",
    )


class WorkspaceMove(BaseModel):
    """The body of PUT /admin/{advertisers,businesses}/{id}/workspace."""

    model_config = ConfigDict(extra="forbid", strict=True)

    workspace: Workspace


class KeywordEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    keyword: str = Field(
        min_length=1, max_length=MAX_KEYWORD_LENGTH, description="Matched as whole words in spaced scripts, as text in others."
    )
    signal: str = Field(
        pattern=f"^{SIGNAL_NAME.pattern}$",
        description="The signal it fires; not `conversation` nor a name TikTok events already carry (value, currency, ...).",
    )
    accent_insensitive: bool = Field(default=False, description="Match with or without accents (precio, précio).")


class KeywordListRequest(BaseModel):
    """The body of PUT /admin/advertisers/{advertiser_id}/keywords: the whole list, replaced at once."""

    model_config = ConfigDict(extra="forbid", strict=True)

    keywords: list[KeywordEntry] = Field(max_length=MAX_KEYWORDS, description=f"At most {MAX_KEYWORDS:,} keywords.")

    @model_validator(mode="before")
    @classmethod
    def _by_the_keyword_rules(cls, body: Any) -> Any:
        """Every bad entry named at once, in the rules' words, before the fields' own checks."""
        try:
            keyword_rules(body)
        except InvalidKeywords as refused:
            raise PydanticCustomError(
                "invalid_keywords", "The keyword list was not saved.", {"problems": tuple(refused.problems)}
            ) from None
        return body

    def rules(self) -> list[KeywordRule]:
        return [KeywordRule(**entry.model_dump()) for entry in self.keywords]


_STANDARD_EVENTS: list[JsonValue] = [*sorted(STANDARD_EVENTS)]


class OutcomeBody(BaseModel):
    """The body of POST /admin/conversations/{conversation_key}/outcomes."""

    model_config = ConfigDict(extra="forbid")

    outcome_id: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,128}$", description="Your own id for this outcome; posting it again changes nothing."
    )
    event: str = Field(description="A TikTok standard event.", json_schema_extra={"enum": _STANDARD_EVENTS})
    value: float | None = Field(
        default=None, ge=0, lt=1e12, description="In the currency's units (19.9 for 19.90), at most 6 decimals."
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217, with a value.")

    @model_validator(mode="before")
    @classmethod
    def _by_the_outcome_rules(cls, body: Any) -> Any:
        try:
            outcome_request(body)
        except InvalidOutcome as refused:
            raise PydanticCustomError("invalid_outcome", str(refused)) from None
        return body

    def request(self) -> OutcomeRequest:
        return OutcomeRequest(self.outcome_id, self.event, self.value, self.currency)


# ---------------------------------------------------------------- answers (for the OpenAPI document)
class Refusal(BaseModel):
    """Every 4xx: a sentence; a refused request also lists each problem, naming its field."""

    message: str = Field(description="What was wrong and what to send instead.")
    problems: list[str] | None = Field(default=None, description="One sentence per problem (400 only).")
    linked_to: str | None = Field(default=None, description="409 on a link: the ad account that holds the chat account.")


class ConnectLinkView(BaseModel):
    url: str = Field(description="Send the person's browser here; it starts the connection at TikTok.")
    kind: ConnectionKind
    workspace: str
    expires_at: int = Field(description="Unix seconds after which the link is refused.")


class WorkspaceView(BaseModel):
    kind: ConnectionKind
    account_id: str
    workspace: str


class AdvertiserView(BaseModel):
    """A connected TikTok ad account (its token never leaves the table)."""

    advertiser_id: str
    name: str | None = None
    workspace: str
    status: AccountLinkStatus
    timezone: str = "UTC"
    currency: str | None = None
    message_event_set_ids: list[str] = []
    connected_at_ms: int
    reauth_reason: str | None = None


class AdvertiserList(BaseModel):
    advertisers: list[AdvertiserView]


class AdvertiserDetail(AdvertiserView):
    links: list[AccountLink]


class ConversationPage(BaseModel):
    conversations: list[Conversation]
    next: str | None = Field(default=None, description="Pass it as `next` for the following page; absent on the last.")


class ConversationDetail(BaseModel):
    """The conversation's fields (see Conversation) once a message opened it, with its events and signals."""

    model_config = ConfigDict(extra="allow")

    conversation_key: str
    events: list[ConversationEvent]
    signals: list[SignalRecord]


class BusinessView(BaseModel):
    """A TikTok Business Account's connection (never its tokens)."""

    business_id: str
    workspace: str
    status: AccountLinkStatus
    access_expires_at_ms: int
    refresh_expires_at_ms: int
    scopes: list[str] = []
    version: int
    connected_at_ms: int
    refreshed_at_ms: int | None = None
    reauth_reason: str | None = None


class ReportView(BaseModel):
    """TikTok's numbers beside our leads; amounts are strings of exact decimals, ratios null on a zero denominator."""

    advertiser_id: str
    from_: str = Field(alias="from")
    to: str
    group_by: str
    currency: str | None
    timezone: str
    totals: dict[str, Any]
    rows: list[dict[str, Any]]
