"""NENA-STA-024 (EIDO conveyance): the messages a CAD and CoRespond exchange over the
subscribe/notify WebSocket, with the standard's names (camelCase on the wire).

Each message is a JSON object with one member that names it (`{"subscribe": {…}}`).
The shapes follow NENA's published schema (`schema/websocket.yaml`, version 1.1);
`resumeAfter` on a subscription and `seq` on an event are CoRespond's own members,
which the schema allows (its objects take further members). docs/sta-024.md.
"""

from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from models.console import MAX_SEQ

Identifier = Annotated[str, StringConstraints(max_length=256)]
Seconds = Annotated[int, Field(ge=0, le=10**9, strict=True)]


class Status(IntEnum):
    """The standard's status codes, each with the text CoRespond sends by default."""

    ok = 200
    bad_request = 400
    forbidden = 403
    not_found = 404
    not_acceptable = 406
    too_large = 413
    no_such_subscription = 481
    server_error = 500
    not_implemented = 501
    unavailable = 503

    @property
    def text(self) -> str:
        return _TEXTS[self]


_TEXTS = {
    Status.ok: "OK",
    Status.bad_request: "Bad request",
    Status.forbidden: "Forbidden",
    Status.not_found: "Not found",
    Status.not_acceptable: "Not acceptable",
    Status.too_large: "Too large",
    Status.no_such_subscription: "Subscription does not exist",
    Status.server_error: "Server error",
    Status.not_implemented: "Not implemented",
    Status.unavailable: "Service unavailable",
}


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )

    def wire(self, name: str) -> dict[str, Any]:
        """The message as sent: `{name: {members…}}`, absent members left out."""
        return {name: self.model_dump(mode="json", exclude_none=True)}


class _FromCad(_Wire):
    # Members CoRespond does not read are ignored, as the schema lets a sender add them.
    model_config = ConfigDict(extra="ignore")


# --- From the CAD (the subscriber) ---


class Subscribe(_FromCad):
    """A new subscription (no `subscriptionId`), or the renewal of one (with it)."""

    request_id: Identifier
    request_type: Literal["EIDO"] | None = None
    request_sub_type: Literal["single", "new", "resource"] | None = None
    request_accepts: Annotated[str, StringConstraints(max_length=256)] | None = None
    qual_filter: str | None = None
    qual_filter_eval_period: Seconds | None = None
    min_rate: Seconds | None = None
    max_rate: Seconds | None = None
    subscription_id: Identifier | None = None
    incident_id: Identifier | None = None
    unit_id: Identifier | None = None
    expires: Seconds | None = None
    resume_after: Annotated[int, Field(ge=0, le=MAX_SEQ, strict=True)] | None = Field(
        default=None,
        description="CoRespond's own: the `seq` of the last notification the CAD took, on "
        "an earlier connection; what changed after it is sent first.",
    )


class Unsubscribe(_FromCad):
    request_id: Identifier
    subscription_id: Identifier


class EventResponse(_FromCad):
    transaction_id: Identifier
    status_code: Annotated[int, Field(ge=100, le=699, strict=True)]
    status_text: str = ""


class TerminateResponse(_FromCad):
    request_id: Identifier
    subscription_id: Identifier
    status_code: Annotated[int, Field(ge=100, le=699, strict=True)]
    status_text: str = ""


class Terminate(_Wire):
    """The notifier ends a subscription (CoRespond also takes one from a CAD, and
    answers it as an unsubscribe)."""

    model_config = ConfigDict(extra="ignore")

    request_id: Identifier
    subscription_id: Identifier


FROM_CAD: dict[str, type[_FromCad] | type[Terminate]] = {
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "eventResponse": EventResponse,
    "terminateResponse": TerminateResponse,
    "terminate": Terminate,
}


# --- From CoRespond (the notifier) ---


class SubscribeResponse(_Wire):
    request_id: str
    subscription_id: str | None = None
    min_rate: int | None = None
    max_rate: int | None = None
    expires: int | None = None
    status_code: Status
    status_text: str


class UnsubscribeResponse(_Wire):
    request_id: str
    subscription_id: str
    status_code: Status
    status_text: str


class NotImplementedResponse(_Wire):
    """The answer to a message CoRespond does not implement (sent as `response`)."""

    request_id: str
    status_code: Literal[Status.not_implemented] = Status.not_implemented
    status_text: Literal["Not implemented"] = "Not implemented"


class Event(_Wire):
    """A notification: the EIDOs of the incidents that changed, one each."""

    subscription_id: str
    transaction_id: str
    notification: list[dict[str, Any]]
    seq: int = Field(
        description="CoRespond's own: a seq of the event log after which nothing is left "
        "unsent to this subscription; subscribe with `resumeAfter` set to it to carry on "
        "after a dropped connection."
    )


class TerminateAnswer(_Wire):
    """CoRespond's `terminateResponse` to a CAD that sent `terminate`."""

    request_id: str
    subscription_id: str
    status_code: Status
    status_text: str
