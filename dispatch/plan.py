"""A team's seats as the roles its assignments fill: `roles_of`.

Which team a call gets is the agency's programme (`dispatch.programme`); this is how
its seats become the roles that offers are made for, one responder each.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from dispatch.programme import SeatNeed


@dataclass(frozen=True, slots=True)
class RoleNeed:
    """One seat on the team: who may fill it and what is preferred in them."""

    role: str
    kind: str
    cit_required: bool = False
    preferred_skills: frozenset[str] = frozenset()
    prefer_language: bool = True


def roles_of(seats: Iterable[SeatNeed]) -> tuple[RoleNeed, ...]:
    """Every seat, `count` times, as a role named by its kind: the first clinician is
    `clinician`, the second `clinician_2`, in the team's order."""
    seen: Counter[str] = Counter()
    roles = []
    for seat in seats:
        for _ in range(seat.count):
            seen[seat.kind] += 1
            n = seen[seat.kind]
            roles.append(
                RoleNeed(
                    role=seat.kind if n == 1 else f"{seat.kind}_{n}",
                    kind=seat.kind,
                    cit_required=seat.cit,
                    preferred_skills=seat.prefer_skills,
                    prefer_language=seat.prefer_language,
                )
            )
    return tuple(roles)
