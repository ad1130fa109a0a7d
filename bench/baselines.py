"""The two scans of everyone that the indexed decision is measured against.

Both rank exactly as `dispatch.ranking` does: score = the estimator's ETA plus
`penalty_s`, lowest score first, ties to the smaller `str(id)`.
"""

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from geopy.distance import geodesic

from dispatch.plan import RoleNeed
from dispatch.ranking import (
    DEFAULT_PREFERENCES,
    CallSite,
    Candidate,
    Preferences,
    is_eligible,
    penalty_s,
)
from dispatch.travel import EARTH_RADIUS_M, GeodesicEstimator

# The haversine scan keeps every candidate whose approximate score is within this
# factor of the best and gives those the exact geodesic. The sphere is off the
# WGS84 ellipsoid by at most 0.6 % anywhere, and by under 0.3 % at the county's
# 40°N; penalties are exact, so a score is off by at most that fraction. The true
# best is then within (1 + 0.003) / (1 - 0.003) < 1.01 of the approximate best.
REFINE_WITHIN = 1.01

Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


def exact_score(
    cand: Candidate,
    need: RoleNeed,
    site: CallSite,
    estimator: GeodesicEstimator,
    prefs: Preferences,
) -> tuple[float, str]:
    """The ranking key `choose_responder` uses: (ETA + penalties in seconds, str(id)),
    from geopy's own `geodesic` (the service calls the same solver without geopy)."""
    metres = geodesic((cand.lat, cand.lon), (site.lat, site.lon)).meters
    return estimator.eta_s(need.kind, metres) + penalty_s(cand, need, site, prefs), str(cand.id)


def geopy_scan(
    site: CallSite,
    need: RoleNeed,
    everyone: Sequence[Candidate],
    estimator: GeodesicEstimator,
    prefs: Preferences = DEFAULT_PREFERENCES,
) -> Hashable | None:
    """The id of the best eligible responder, by a geopy geodesic to every one of them."""
    eligible = (cand for cand in everyone if is_eligible(cand, need, site.on))
    best = min(
        eligible, key=lambda cand: exact_score(cand, need, site, estimator, prefs), default=None
    )
    return None if best is None else best.id


@dataclass(frozen=True, slots=True)
class NumpyScan:
    """Responders of one kind as columns, precomputed once (not timed): positions in
    radians and their cosines, certification date as an ordinal (-1 when none), and
    one boolean column per language and per skill. Eligibility and penalties are
    evaluated per call over the whole column, not looked up from a cached mask."""

    people: Sequence[Candidate]
    lat: Floats
    lon: Floats
    cos_lat: Floats
    cit_until: npt.NDArray[np.int64]
    speaks: dict[str, Flags]
    has: dict[str, Flags]

    @classmethod
    def of(cls, people: Sequence[Candidate]) -> "NumpyScan":
        lat = np.radians(np.array([c.lat for c in people], dtype=np.float64))
        lon = np.radians(np.array([c.lon for c in people], dtype=np.float64))
        until = [c.cit_certified_until for c in people]
        languages = set().union(*(c.languages for c in people))
        skills = set().union(*(c.skills for c in people))
        return cls(
            people=people,
            lat=lat,
            lon=lon,
            cos_lat=np.cos(lat),
            cit_until=np.array([-1 if d is None else d.toordinal() for d in until], np.int64),
            speaks={x: np.array([x in c.languages for c in people]) for x in languages},
            has={x: np.array([x in c.skills for c in people]) for x in skills},
        )

    def choose(
        self,
        site: CallSite,
        need: RoleNeed,
        estimator: GeodesicEstimator,
        prefs: Preferences = DEFAULT_PREFERENCES,
    ) -> Hashable | None:
        """The id of the best eligible responder: a haversine score for everyone, then
        the exact geodesic for those within `REFINE_WITHIN` of the best."""
        score = self._haversine_m(site) * (estimator.circuity / estimator.speeds_mps[need.kind])
        score += self._penalties(site, need, prefs)
        if need.cit_required:
            score[self.cit_until < site.on.toordinal()] = np.inf
        best = float(score.min(initial=np.inf))
        if best == np.inf:
            return None
        near = [self.people[int(i)] for i in np.flatnonzero(score <= best * REFINE_WITHIN)]
        return min(near, key=lambda cand: exact_score(cand, need, site, estimator, prefs)).id

    def _haversine_m(self, site: CallSite) -> Floats:
        lat, lon = math.radians(site.lat), math.radians(site.lon)
        h = np.sin((self.lat - lat) / 2) ** 2 + math.cos(lat) * self.cos_lat * (
            np.sin((self.lon - lon) / 2) ** 2
        )
        metres: Floats = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
        return metres

    def _penalties(self, site: CallSite, need: RoleNeed, prefs: Preferences) -> Floats:
        nobody = np.zeros(len(self.people), dtype=np.bool_)
        cost = np.zeros(len(self.people), dtype=np.float64)
        for skill in need.preferred_skills:
            cost += prefs.skill_penalty_s * ~self.has.get(skill, nobody)
        if site.language:
            cost += prefs.language_penalty_s * ~self.speaks.get(site.language, nobody)
        return cost
