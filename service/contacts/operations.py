"""A call's person and place as keys, counted against the window's earlier calls.

A person's identifiers become HMAC-SHA256 hashes under the agency's key: the CAD's
person id and, apart, the name with the date of birth (so a call naming either
finds the other's earlier calls). The agency's key is an HMAC of the agency's own
random secret (in the database) under `CORESPOND_PERSON_KEY` (not in it): set that,
and a copy of the database alone cannot test guesses of names and birthdays. The
identifiers themselves are never written anywhere: not to the database, not to a log.

A place is the H3 cell (resolution 10, edges of about 66 m) the call lies in: an
address and its neighbours.
"""

import functools
import hashlib
import hmac
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from h3.api import basic_int as h3
from sqlalchemy import bindparam, delete, func, insert, or_, select
from sqlmodel import col

from models.contact import AgencySecret, ContactKey, Contacts, Person
from service.store.prepared import Prepared
from service.store.transaction import Tx

PLACE_RES = 10

_SECRET = Prepared(
    select(col(AgencySecret.person_secret)).where(
        col(AgencySecret.agency_id) == bindparam("agency_id")
    )
)
_INSERT = Prepared(insert(ContactKey))


def place_key(lat: float, lon: float) -> str:
    return f"place:{h3.latlng_to_cell(lat, lon, PLACE_RES):x}"


def person_keys(key: bytes, person: Person) -> list[str]:
    """The person's keys under the agency's `key`: one for the CAD's id, one for the
    name with the date of birth; each given identifier, normalised, is hashed apart."""
    said: list[str] = []
    if person.cad_person_id is not None:
        said.append(f"id\x1f{person.cad_person_id}")
    if person.name is not None and person.date_of_birth is not None:
        said.append(f"nd\x1f{_normal(person.name)}\x1f{person.date_of_birth.isoformat()}")
    return ["person:" + hmac.new(key, s.encode(), hashlib.sha256).hexdigest() for s in said]


def _normal(name: str) -> str:
    """`José  DE la Cruz` and `jose de la cruz` are one name: accents off, case folded,
    spaces collapsed."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def new_agency_secret(tx: Tx, agency_id: uuid.UUID) -> None:
    """Give a new agency its secret (`agencies.create_agency` does, in its transaction)."""
    tx.session.add(AgencySecret(agency_id=agency_id, person_secret=secrets.token_hex(32)))


def agency_key(tx: Tx, agency_id: uuid.UUID, server_key: str) -> bytes:
    """The agency's hashing key: its own secret under the server's."""
    secret = tx.run(_SECRET, {"agency_id": agency_id}).scalar_one()
    return hmac.new(server_key.encode(), bytes.fromhex(secret), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Counted:
    """A new call's counts, and the keys to file once the call is written."""

    contacts: Contacts
    keys: list[str]


def count_contacts(
    tx: Tx,
    *,
    agency_id: uuid.UUID,
    received_at: datetime,
    lat: float,
    lon: float,
    person: Person | None,
    server_key: str,
    window: timedelta,
) -> Counted:
    """Count the earlier calls in `window` that share this call's person or place."""
    place = place_key(lat, lon)
    persons = person_keys(agency_key(tx, agency_id, server_key), person) if person else []
    since = received_at - window
    at_person = _count(tx, agency_id, persons, since, received_at) if persons else None
    at_place = _count(tx, agency_id, [place], since, received_at)
    return Counted(contacts_said(window, at_person, at_place), [place, *persons])


def file_contacts(
    tx: Tx, *, agency_id: uuid.UUID, call_id: uuid.UUID, received_at: datetime, keys: list[str]
) -> None:
    """File a written call's keys for the calls to come."""
    for key in keys:  # prepared, one a key: 1 to 3 of them
        tx.run(
            _INSERT,
            {
                "id": uuid.uuid4(),
                "agency_id": agency_id,
                "call_id": call_id,
                "key": key,
                "received_at": received_at,
            },
        )


@functools.lru_cache(maxsize=4)
def _counting(keys: int) -> Prepared:
    """Earlier calls (distinct) with any of `keys` keys, built once a number of keys (a
    prepared statement cannot hold an expanding IN): 1 for a place, 1 or 2 for a person."""
    return Prepared(
        select(func.count(func.distinct(col(ContactKey.call_id)))).where(
            col(ContactKey.agency_id) == bindparam("agency_id"),
            or_(*(col(ContactKey.key) == bindparam(f"key{i}") for i in range(keys))),
            col(ContactKey.received_at) >= bindparam("since"),
            col(ContactKey.received_at) < bindparam("before"),
        )
    )


def _count(tx: Tx, agency_id: uuid.UUID, keys: list[str], since: datetime, before: datetime) -> int:
    """Earlier calls (distinct) with any of `keys` received in [since, before)."""
    params: dict[str, object] = {"agency_id": agency_id, "since": since, "before": before}
    params |= {f"key{i}": key for i, key in enumerate(keys)}
    return int(tx.run(_counting(len(keys)), params).scalar_one())


def contacts_said(window: timedelta, person: int | None, place: int) -> Contacts:
    """The counts, and the sentence a dispatcher reads."""
    days = window.days

    def contacts(n: int) -> str:
        return f"{n} contact{'' if n == 1 else 's'} in {days} days"

    if person is None:
        said = f"{contacts(place)} at this place"
    else:
        said = f"{contacts(person)} at this person; {place} at this place"
    return Contacts(window_days=days, person=person, place=place, said=said)


def forget_old_contacts(tx: Tx, *, keep: timedelta, limit: int) -> int:
    """Drop up to `limit` keys older than `keep`: a flag expires with its window."""
    old = (
        select(col(ContactKey.id))
        .where(col(ContactKey.received_at) < tx.now - keep)
        .limit(limit)
        .scalar_subquery()
    )
    return tx.changed(delete(ContactKey).where(col(ContactKey.id).in_(old)))
