"""The three ways of making a dispatch decision that the benchmark races.

A dispatch decision is: plan the call (the default programme), then choose one
responder for every role of the plan. Only the way a role is filled differs:
the indexed H3 search under test, a numpy haversine scan of everyone, or a
geopy geodesic to everyone.
"""

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from bench.baselines import NumpyScan, geopy_scan
from bench.population import BenchCall, plan_roles
from dispatch.cells import CellRange
from dispatch.index import ResponderIndex
from dispatch.plan import RoleNeed
from dispatch.ranking import CallSite, Candidate, choose_responder
from dispatch.travel import GeodesicEstimator, Point, Travel
from models.vocabulary import ResponderKind

# Fills one role: the id of the responder chosen, or None when nobody can be.
Chooser = Callable[[CallSite, RoleNeed], Hashable | None]
# The ids chosen for the roles of one call's plan, in the plan's order.
Decision = tuple[Hashable | None, ...]


def decide(call: BenchCall, choose: Chooser) -> Decision:
    """One dispatch decision: the plan, then a responder for each of its roles."""
    return tuple(choose(call.site, need) for need in plan_roles(call.site, call.classification))


@dataclass(slots=True)
class Work:
    """What the indexed search did, counted over a number of decisions."""

    fetched: int = 0  # candidates the index handed over, eligible or not
    exact: int = 0  # exact (geodesic) travel estimates asked for


@dataclass(frozen=True, slots=True)
class CountingEstimator:
    """A `GeodesicEstimator` that counts its exact estimates into `work`."""

    inner: GeodesicEstimator
    work: Work

    def travel(self, kind: str, origin: Point, dest: Point) -> Travel:
        self.work.exact += 1
        return self.inner.travel(kind, origin, dest)

    def lower_bound_s(self, kind: str, straight_m: float) -> float:
        return self.inner.lower_bound_s(kind, straight_m)

    def eta_s(self, kind: str, metres: float) -> float:
        """Keeps the search on its distance-estimate path, as with the plain estimator."""
        return self.inner.eta_s(kind, metres)


@dataclass(frozen=True, slots=True)
class Contestants:
    """The population of one size, filed for each contestant (built once, not timed)."""

    estimator: GeodesicEstimator
    by_kind: Mapping[str, Sequence[Candidate]]
    indexes: Mapping[str, ResponderIndex]
    scans: Mapping[str, NumpyScan]
    work: Work = field(default_factory=Work)

    @classmethod
    def of(cls, people: Sequence[Candidate], estimator: GeodesicEstimator) -> "Contestants":
        by_kind: dict[str, list[Candidate]] = {
            k: [c for c in people if c.kind == k] for k in ResponderKind
        }
        return cls(
            estimator=estimator,
            by_kind=by_kind,
            indexes={k: ResponderIndex(group) for k, group in by_kind.items()},
            scans={k: NumpyScan.of(group) for k, group in by_kind.items()},
        )

    def indexed(self, site: CallSite, need: RoleNeed) -> Hashable | None:
        """The decision under test: `choose_responder` over the kind's `ResponderIndex`."""
        choice = choose_responder(
            site, need, fetch=self.indexes[need.kind].fetch, estimator=self.estimator
        )
        return None if choice is None else choice.candidate.id

    def indexed_counting(self, site: CallSite, need: RoleNeed) -> Hashable | None:
        """As `indexed`, counting candidates fetched and exact estimates into `work`."""
        index, work = self.indexes[need.kind], self.work

        def fetch(ranges: Sequence[CellRange]) -> Iterator[Candidate]:
            for cand in index.fetch(ranges):
                work.fetched += 1
                yield cand

        choice = choose_responder(
            site, need, fetch=fetch, estimator=CountingEstimator(self.estimator, work)
        )
        return None if choice is None else choice.candidate.id

    def numpy_scan(self, site: CallSite, need: RoleNeed) -> Hashable | None:
        """Baseline: haversine over every responder of the kind, geodesic for the nearest few."""
        return self.scans[need.kind].choose(site, need, self.estimator)

    def geopy_scan(self, site: CallSite, need: RoleNeed) -> Hashable | None:
        """Baseline: a geopy geodesic to every eligible responder of the kind."""
        return geopy_scan(site, need, self.by_kind[need.kind], self.estimator)
