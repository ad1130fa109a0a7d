"""The assignment lifecycle: which state may follow which, and what follows for
the responder.

    offered → accepted → en_route → on_scene → cleared
       ↘ declined, expired         ↘ (any active state) cancelled

A responder may skip ahead (accepted → on_scene when already there) but never
go back.
"""

from collections.abc import Mapping
from types import MappingProxyType

from models.vocabulary import AssignmentState, ResponderStatus

S = AssignmentState

NEXT: Mapping[AssignmentState, frozenset[AssignmentState]] = MappingProxyType(
    {
        S.offered: frozenset({S.accepted, S.declined, S.expired, S.cancelled}),
        S.accepted: frozenset({S.en_route, S.on_scene, S.cleared, S.cancelled}),
        S.en_route: frozenset({S.on_scene, S.cleared, S.cancelled}),
        S.on_scene: frozenset({S.cleared, S.cancelled}),
    }
)

# Where the responder stands once its assignment reaches a state.
RESPONDER_STATUS: Mapping[AssignmentState, ResponderStatus] = MappingProxyType(
    {
        S.accepted: ResponderStatus.assigned,
        S.en_route: ResponderStatus.en_route,
        S.on_scene: ResponderStatus.on_scene,
        S.cleared: ResponderStatus.available,
        S.declined: ResponderStatus.available,
        S.expired: ResponderStatus.available,
        S.cancelled: ResponderStatus.available,
    }
)

# The timestamp column each state stamps.
STAMP: Mapping[AssignmentState, str] = MappingProxyType(
    {
        S.accepted: "accepted_at",
        S.en_route: "en_route_at",
        S.on_scene: "on_scene_at",
        S.cleared: "cleared_at",
        S.declined: "ended_at",
        S.expired: "ended_at",
        S.cancelled: "ended_at",
    }
)

# A responder's own progress reports; the others are answers or system moves.
PROGRESS = frozenset({S.en_route, S.on_scene, S.cleared})


def sources(target: AssignmentState) -> frozenset[AssignmentState]:
    """The states an assignment may be in to move to `target`."""
    return frozenset(state for state, nexts in NEXT.items() if target in nexts)
