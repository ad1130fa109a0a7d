"""Seed a load run's database directly (fast): one agency, its responders, its tokens.

Responders sit within a kilometre of real Montgomery County call locations (see
population.py). The first `on_duty` of them are available and each gets a console
token; the rest are off duty: in the index and the tables, never offered.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert, text

from bench.population import load_call_locations, place, population_note
from dispatch.cells import position_cell
from models.agency import Agency
from models.columns import utcnow
from models.responder import Responder
from models.vocabulary import ResponderKind, ResponderStatus, Role
from service.agencies.operations import create_agency
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from service.trust.auth import issue_token

CIT_UNTIL = date(2099, 1, 1)


@dataclass(frozen=True, slots=True)
class Seeded:
    agency_slug: str
    cad_token: str
    admin_token: str
    dispatcher_tokens: list[str]
    responder_tokens: list[tuple[str, str]]  # (responder id, token)
    anchors: list[tuple[float, float]]
    population: str  # where they were placed (population_note)


def seed(
    uow: UnitOfWork, *, responders: int, on_duty: int, dispatchers: int, rng: random.Random
) -> Seeded:
    sample = load_call_locations()
    anchors = sample or [(40.2, -75.4)]
    agency = uow.write_sync(create_agency, slug="load", offer_timeout_s=60)
    now = utcnow()
    rows: list[dict[str, object]] = []
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(responders)]
    for n, rid in enumerate(ids):
        lat, lon = place(rng, anchors)
        officer = n % 3 == 0
        rows.append(
            {
                "id": rid,
                "agency_id": agency.id,
                "kind": ResponderKind.officer if officer else ResponderKind.clinician,
                "name": f"{'Officer' if officer else 'Clinician'} {n}",
                "cit_certified_until": CIT_UNTIL if officer else None,
                "credentials": [],
                "languages": ["en"],
                "skills": [],
                "status": ResponderStatus.available if n < on_duty else ResponderStatus.off_duty,
                "lat": lat,
                "lon": lon,
                "position_cell": position_cell(lat, lon),
                "position_at": now,
                "status_changed_at": now,
                "created_at": now,
            }
        )

    def write(tx: Tx) -> Seeded:
        for start in range(0, len(rows), 5000):
            tx.session.execute(insert(Responder), rows[start : start + 5000])
        found = tx.session.get(Agency, agency.id)
        assert found is not None
        return Seeded(
            agency_slug=found.slug,
            cad_token=issue_token(tx, agency=found, role=Role.cad),
            admin_token=issue_token(tx, agency=found, role=Role.admin),
            dispatcher_tokens=[
                issue_token(tx, agency=found, role=Role.dispatcher) for _ in range(dispatchers)
            ],
            responder_tokens=[
                (str(rid), issue_token(tx, agency=found, role=Role.responder, responder_id=rid))
                for rid in ids[:on_duty]
            ],
            anchors=anchors,
            population=population_note(sample),
        )

    seeded = uow.write_sync(write)
    uow.write_sync(_analyze_on_postgres)
    return seeded


def _analyze_on_postgres(tx: Tx) -> None:
    """A live database has its planner statistics; one loaded a moment ago has none
    until autovacuum comes round (a minute or more), and PostgreSQL planned the ring
    queries blind: a lone intake's work 28 ms, not 11 (bench/HISTORY.md). SQLite is
    left as it was measured before (it plans without statistics)."""
    if tx.session.get_bind().dialect.name == "postgresql":
        tx.session.execute(text("ANALYZE"))
