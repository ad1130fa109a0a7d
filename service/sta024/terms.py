"""A new subscription's request checked against what CoRespond offers: the kind of
subscription, the format, the rates and the lifetime it may have (docs/sta-024.md)."""

from dataclasses import dataclass

from models.sta024 import Status, Subscribe
from service.sta024.operations import Kind
from service.sta024.subscription import Terms

DEFAULT_EXPIRES_S = 3600  # a subscription that does not ask lives an hour, then renews
MAX_EXPIRES_S = 86_400  # and at most a day between renewals
# What CoRespond sends: EIDO 1.0, as JSON. `requestAccepts` names a MIME type and may
# narrow it to a major version (`; version=1`).
EIDO_TYPES = frozenset(
    {"application/emergencycalldata.eido+json", "application/json", "application/*", "*/*"}
)
EIDO_MAJOR = "1"


@dataclass(frozen=True, slots=True)
class Wanted:
    """A valid request for a new subscription: what it follows and on what terms."""

    kind: Kind
    target: str | None  # the incidentId or unitId
    terms: Terms


def negotiate(request: Subscribe) -> Wanted | tuple[Status, str]:
    """The subscription `request` asks for, or the status and text that refuse it.

    1. It must ask for EIDOs, in a format CoRespond sends (else 406).
    2. Its kind is `requestSubType`, or follows from what it names: an incidentId is a
       single incident, a unitId a unit's, neither every incident ("new").
    3. What it names must fit its kind; a qualFilter is not offered.
    4. Rates: `minRate` (notify at least this often) may not be shorter than `maxRate`
       (notify at most this often); 0 is no rate.
    5. `expires` is at least a second; more than a day is granted as a day.
    """
    if request.request_type is None:
        return Status.bad_request, "Bad request: requestType is required for a new subscription"
    if request.request_accepts is not None and not _acceptable(request.request_accepts):
        return Status.not_acceptable, (
            "Not acceptable: CoRespond sends EIDO 1.0 as application/EmergencyCallData.eido+json"
        )
    kind = request.request_sub_type or (
        "single" if request.incident_id else "resource" if request.unit_id else "new"
    )
    mismatch = _mismatch(request, kind)
    if mismatch is not None:
        return Status.bad_request, f"Bad request: {mismatch}"
    min_rate, max_rate = request.min_rate or None, request.max_rate or None
    if min_rate and max_rate and min_rate < max_rate:
        return Status.bad_request, (
            f"Bad request: minRate ({min_rate} s, the longest wait) is shorter than "
            f"maxRate ({max_rate} s, the shortest wait between notifications)"
        )
    if request.expires is not None and request.expires < 1:
        return Status.bad_request, "Bad request: expires must be at least 1 second"
    expires = min(request.expires or DEFAULT_EXPIRES_S, MAX_EXPIRES_S)
    target = request.incident_id if kind == "single" else request.unit_id
    return Wanted(kind=kind, target=target, terms=Terms(min_rate, max_rate, expires))


def _mismatch(request: Subscribe, kind: Kind) -> str | None:
    if request.qual_filter is not None:
        return "qualFilter is not offered: subscribe to every incident, one incident or one unit"
    if kind == "single" and not request.incident_id:
        return "a single-incident subscription needs incidentId"
    if kind == "resource" and not request.unit_id:
        return "a resource subscription needs unitId"
    if kind != "single" and request.incident_id:
        return f"incidentId is only for a single-incident subscription, not {kind!r}"
    if kind != "resource" and request.unit_id:
        return f"unitId is only for a resource subscription, not {kind!r}"
    return None


def _acceptable(accepts: str) -> bool:
    """Whether any of the comma-separated types CoRespond may send."""
    for offered in accepts.split(","):
        media, *params = (part.strip().lower() for part in offered.split(";"))
        version = next((p.split("=", 1)[1] for p in params if p.startswith("version=")), None)
        if media in EIDO_TYPES and (version is None or version.split(".")[0] == EIDO_MAJOR):
            return True
    return False


def renewal_refused(request: Subscribe) -> str | None:
    """Why a renewal (a subscribe naming its subscriptionId) is refused: STA-024 lets
    it change only `expires`."""
    changed = [
        name
        for name, value in (
            ("minRate", request.min_rate),
            ("maxRate", request.max_rate),
            ("incidentId", request.incident_id),
            ("unitId", request.unit_id),
            ("qualFilter", request.qual_filter),
            ("requestSubType", request.request_sub_type),
            ("resumeAfter", request.resume_after),
        )
        if value is not None
    ]
    if changed:
        return f"Bad request: a renewal may change only expires, not {', '.join(changed)}"
    if request.expires is not None and request.expires < 1:
        return "Bad request: expires must be at least 1 second"
    return None
