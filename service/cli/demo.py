"""`corespond demo`: a demo agency around Norristown, PA, ready to dispatch."""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from dispatch.cells import position_cell
from models.agency import Agency
from models.responder import Responder
from models.vocabulary import ResponderKind, ResponderStatus, Role
from service.agencies.operations import create_agency, find_agency
from service.settings import Settings
from service.store.transaction import Tx
from service.trust.auth import issue_token

SLUG = "demo"
# A demo's tokens are for trying it out: they lapse after a working day, not 90 days.
TOKEN_LIFETIME = timedelta(hours=8)
CENTRE = (40.1215, -75.3399)  # Norristown, Montgomery County, Pennsylvania
_FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Riley",
    "Casey",
    "Morgan",
    "Taylor",
    "Jamie",
    "Avery",
    "Quinn",
    "Rowan",
    "Drew",
    "Devon",
    "Emerson",
    "Harper",
    "Kai",
]
_LAST = [
    "Ruiz",
    "Okafor",
    "Chen",
    "Kowalski",
    "Nguyen",
    "Patel",
    "Murphy",
    "Haddad",
    "Johnson",
    "Rossi",
    "Kim",
    "Silva",
    "Walsh",
    "Moreau",
    "Adeyemi",
    "Novak",
]


@dataclass(frozen=True, slots=True)
class Seeded:
    agency: Agency
    officers: int
    clinicians: int
    dispatcher_token: str
    responder_token: str
    clinician: Responder
    tokens_expire_at: datetime


def _place(rng: random.Random, radius_deg: float = 0.07) -> tuple[float, float]:
    return CENTRE[0] + rng.uniform(-radius_deg, radius_deg), CENTRE[1] + rng.uniform(
        -radius_deg, radius_deg
    ) * 1.3


def _responders(agency: Agency, today: date) -> list[Responder]:
    rng = random.Random(2026)  # the same demo every time
    people = []
    for i in range(40):
        kind = ResponderKind.officer if i < 24 else ResponderKind.clinician
        lat, lon = _place(rng)
        certified = kind == ResponderKind.officer and i % 4 != 3  # a quarter lack CIT
        people.append(
            Responder(
                agency_id=agency.id,
                kind=kind,
                name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                external_id=f"{kind.value[:3]}-{i + 1:02d}",
                cit_certified_until=today + timedelta(days=365) if certified else None,
                credentials=[rng.choice(["LCSW", "LPC", "RN", "CPRS"])]
                if kind == ResponderKind.clinician
                else [],
                languages=["en", "es"] if i % 5 == 0 else ["en"],
                skills=rng.sample(["naloxone", "substance_use", "suicide_risk", "youth"], 2),
                status=ResponderStatus.available,
                lat=lat,
                lon=lon,
                position_cell=position_cell(lat, lon),
            )
        )
    return people


def seed(tx: Tx) -> Seeded:
    """Create the demo agency and its responders once; new tokens on every run."""
    agency = find_agency(tx, slug=SLUG)
    if agency is None:
        agency = create_agency(tx, slug=SLUG, name="Demo County Crisis Response")
        people = _responders(agency, tx.now.date())
        for person in people:
            person.position_at = tx.now
        tx.session.add_all(people)
        tx.session.flush()
    people = list(
        tx.session.execute(select(Responder).where(col(Responder.agency_id) == agency.id)).scalars()
    )
    clinician = next(p for p in people if p.external_id == "cli-25")
    expires_at = tx.now + TOKEN_LIFETIME
    return Seeded(
        agency=agency,
        officers=sum(p.kind == ResponderKind.officer for p in people),
        clinicians=sum(p.kind == ResponderKind.clinician for p in people),
        dispatcher_token=issue_token(
            tx, agency=agency, role=Role.dispatcher, label="demo", expires_at=expires_at
        ),
        responder_token=issue_token(
            tx,
            agency=agency,
            role=Role.responder,
            responder_id=clinician.id,
            label="demo",
            expires_at=expires_at,
        ),
        tokens_expire_at=expires_at,
        clinician=clinician,
    )


def instructions(seeded: Seeded, settings: Settings) -> str:
    base = f"http://{settings.host}:{settings.port}"
    hours = int(TOKEN_LIFETIME.total_seconds() // 3600)
    c = seeded.clinician
    body = (
        f'{{"location": {{"lat": {c.lat:.5f}, "lon": {c.lon:.5f}}}, '
        '"category": "mental_health_crisis", "priority": 2}'
    )
    return f"""\
Demo agency '{seeded.agency.slug}': {seeded.officers} officers, {seeded.clinicians} clinicians \
around Norristown, PA, all available.

Dispatcher token:  {seeded.dispatcher_token}
Responder token:   {seeded.responder_token}
  (acts as clinician {c.name}, {c.external_id}, at {c.lat:.4f}, {c.lon:.4f})
Both expire at {seeded.tokens_expire_at:%Y-%m-%d %H:%M} UTC (in {hours} hours); \
run the demo again for new ones.

In a browser: {base}/console, sign in with the dispatcher token in one window and
the responder token in another tab (each tab keeps its own token), flag a call from the dispatcher's
form next to the clinician, and accept the offer on the clinician's page.

Or in terminals:
1. The clinician's console:
   CORESPOND_TOKEN={seeded.responder_token} .venv/bin/corespond console

2. Flag a call next to that clinician:
   curl -s {base}/v1/calls -H 'Authorization: Bearer {seeded.dispatcher_token}' \\
     -H 'Content-Type: application/json' \\
     -d '{body}'

The offer appears on the console as an OFFER line; type `accept` to take it."""
