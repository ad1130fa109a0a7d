"""What the plan says when the road changed a seat's choice: "chose Ruiz (4 min by
road) over Chen (1.1 km away, 11 min by road)". Said to staff and CAD only: it names a
colleague and where they are."""

import math
from collections.abc import Callable, Hashable

from dispatch.by_road import RoadChoice
from dispatch.ranking import Choice


def road_choice_reason(
    chosen: Choice, crow: Choice | None, name_of: Callable[[Hashable], str]
) -> str | None:
    """What the plan says when the road changed the choice: "chose Ruiz (4 min by
    road) over Chen (1.1 km away, 11 min by road)". None when the chosen one is also
    the nearest as the crow flies (or nobody was compared), and when the chosen one
    takes longer by road: then a language or a skill decided, not the road."""
    if crow is None or crow.candidate.id == chosen.candidate.id or chosen.eta_s > crow.eta_s:
        return None
    straight_m = crow.straight_m if isinstance(crow, RoadChoice) else crow.distance_m
    return (
        f"chose {name_of(chosen.candidate.id)} ({_took(chosen)}) over "
        f"{name_of(crow.candidate.id)} ({_far(straight_m)} away, {_took(crow)})"
    )


def _took(choice: Choice) -> str:
    if isinstance(choice, RoadChoice) and choice.at_least:
        below = math.floor(choice.eta_s / 60)
        return f"more than {below} min by road" if below else "more than a moment by road"
    minutes = max(1, math.ceil(choice.eta_s / 60))
    if isinstance(choice, RoadChoice) and not choice.by_road:
        return f"{minutes} min in a straight line, no road route"
    return f"{minutes} min by road"


def _far(metres: float) -> str:
    if round(metres) < 1000:
        return f"{round(metres)} m"
    return f"{metres / 1000:.1f} km"
