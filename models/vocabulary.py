"""The domain's fixed words: kinds, states, categories and dispositions."""

from enum import StrEnum


class Role(StrEnum):
    """What a token may do; see DESIGN.md, "Access"."""

    admin = "admin"
    supervisor = "supervisor"
    dispatcher = "dispatcher"
    cad = "cad"
    responder = "responder"
    provider = "provider"  # a resource's staff: updates that one resource's capacity


class ResponderKind(StrEnum):
    """The kinds every agency has; a programme may declare more (`models.programme`)."""

    officer = "officer"  # the only kind that is police
    clinician = "clinician"
    peer = "peer"  # peer-support specialist
    medic = "medic"  # EMT or paramedic


class ResponderStatus(StrEnum):
    off_duty = "off_duty"
    available = "available"
    offered = "offered"
    assigned = "assigned"
    en_route = "en_route"
    on_scene = "on_scene"
    out_of_service = "out_of_service"


# A person may set only these; the others follow from assignments.
SETTABLE_RESPONDER_STATUSES = frozenset(
    {ResponderStatus.available, ResponderStatus.off_duty, ResponderStatus.out_of_service}
)
BUSY_RESPONDER_STATUSES = frozenset(
    {
        ResponderStatus.offered,
        ResponderStatus.assigned,
        ResponderStatus.en_route,
        ResponderStatus.on_scene,
    }
)


class Category(StrEnum):
    """The behavioural-health classification of a call."""

    suicidal_ideation = "suicidal_ideation"
    mental_health_crisis = "mental_health_crisis"
    substance_use = "substance_use"
    overdose = "overdose"
    welfare_check = "welfare_check"
    disturbance = "disturbance"


class CallStatus(StrEnum):
    pending = "pending"  # some needed role has nobody offered or assigned
    referred = "referred"  # to police, by the programme: no CoRespond team
    dispatched = "dispatched"  # every needed role has an offer or an assignment
    closed = "closed"
    cancelled = "cancelled"


class AssignmentState(StrEnum):
    offered = "offered"
    accepted = "accepted"
    en_route = "en_route"
    on_scene = "on_scene"
    cleared = "cleared"
    declined = "declined"
    expired = "expired"
    cancelled = "cancelled"


class OfferPurpose(StrEnum):
    """What an offer is for: a seat of the call's team, or backup for a responder in
    trouble on it (beside the team, in roles `backup`, `backup_2`, …). Told by this,
    never by the role's name: a programme may declare a kind named `backup`."""

    team = "team"
    checkin_backup = "checkin_backup"  # a check-in missed, under the `backup` rule
    emergency_backup = "emergency_backup"  # an emergency raised


ACTIVE_ASSIGNMENT_STATES = frozenset(
    {
        AssignmentState.offered,
        AssignmentState.accepted,
        AssignmentState.en_route,
        AssignmentState.on_scene,
    }
)


class Disposition(StrEnum):
    resolved_on_scene = "resolved_on_scene"
    referred = "referred"
    transported_crisis_centre = "transported_crisis_centre"
    transported_ed = "transported_ed"
    voluntary_hold = "voluntary_hold"
    involuntary_hold = "involuntary_hold"
    arrest = "arrest"
    no_contact = "no_contact"


class ResourceKind(StrEnum):
    """The places an agency refers or takes people to (its community resources)."""

    crisis_centre = "crisis_centre"
    detox = "detox"
    sobering_centre = "sobering_centre"
    emergency_department = "emergency_department"
    shelter = "shelter"
    outpatient_clinic = "outpatient_clinic"
    peer_service = "peer_service"


# The destination a transported_* disposition needs, by kind.
DESTINATION_KINDS = {
    Disposition.transported_crisis_centre: frozenset({ResourceKind.crisis_centre}),
    Disposition.transported_ed: frozenset({ResourceKind.emergency_department}),
}


class FollowUpOutcome(StrEnum):
    reached = "reached"
    not_reached = "not_reached"
    linked_to_care = "linked_to_care"


class FollowUpState(StrEnum):
    open = "open"  # offered to clinicians and peers, or waiting in the queue
    claimed = "claimed"  # one of them took it
    completed = "completed"
