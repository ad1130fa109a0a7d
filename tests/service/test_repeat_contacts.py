"""Repeat contacts without a registry of people: a new call shows how many earlier calls
in the window were about the same person or at the same place, to staff and CAD; the
person is kept only as keyed hashes, and what the CAD sent never reaches the database
or a log."""

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from models.contact import ContactKey
from models.tables import metadata
from models.vocabulary import Role
from service.contacts.operations import forget_old_contacts
from tests.conftest import AgencyKit, Server, new_agency, start_server, stop_server
from tests.service.factories import NORRISTOWN, call_body, north_of, responder

NAME, BIRTHDAY, CAD_ID = "José de la Cruz", "1987-03-14", "PERSON-88213"
ELSEWHERE = north_of(3_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    where = tmp_path_factory.mktemp("contacts")
    # Debug logs, so that a test of what is logged reads the most that could be.
    running = start_server(
        where,
        extra_env={"CORESPOND_LOG_LEVEL": "debug", "CORESPOND_REPEAT_CONTACT_DAYS": "2"},
    )
    yield running, where
    stop_server(running)


@pytest.fixture
def kit(server: tuple[Server, Path]) -> AgencyKit:
    return new_agency(server[0])


def post(
    desk: httpx.Client,
    *,
    at: tuple[float, float] = NORRISTOWN,
    person: dict[str, Any] | None = None,
    ago: timedelta | None = None,
) -> dict[str, Any]:
    body = call_body(at=at)
    if person is not None:
        body["person"] = person
    if ago is not None:
        body["received_at"] = (datetime.now(UTC) - ago).isoformat()
    answer = desk.post("/v1/calls", json=body)
    assert answer.status_code == 201, answer.text
    call: dict[str, Any] = answer.json()
    return call


def test_a_person_and_a_place_seen_before_are_counted(kit: AgencyKit) -> None:
    with kit.client(Role.dispatcher) as desk:
        first = post(
            desk, person={"cad_person_id": CAD_ID, "name": NAME, "date_of_birth": BIRTHDAY}
        )
        assert first["contacts"] == {
            "window_days": 2,
            "person": 0,
            "place": 0,
            "said": "0 contacts in 2 days at this person; 0 at this place",
        }
        # the same person by name and birthday only, written otherwise, somewhere else
        second = post(
            desk, at=ELSEWHERE, person={"name": "  jose DE LA  cruz ", "date_of_birth": BIRTHDAY}
        )
        assert (second["contacts"]["person"], second["contacts"]["place"]) == (1, 0)
        # by the CAD's id only, back at the first place: the second call had no id
        third = post(desk, person={"cad_person_id": CAD_ID})
        assert (third["contacts"]["person"], third["contacts"]["place"]) == (1, 1)
        # nobody named: the place alone
        fourth = post(desk)
        assert fourth["contacts"] == {
            "window_days": 2,
            "person": None,
            "place": 2,
            "said": "2 contacts in 2 days at this place",
        }
        # another person born the same day is not the same person
        other = post(desk, at=ELSEWHERE, person={"name": "Ana Ruiz", "date_of_birth": BIRTHDAY})
        assert (other["contacts"]["person"], other["contacts"]["place"]) == (0, 1)
        # what intake counted is what the call shows later
        again = desk.get(f"/v1/calls/{third['id']}").json()
        assert again["contacts"] == third["contacts"]
        assert "person" not in again  # never answered back


def test_calls_older_than_the_window_are_not_counted_and_their_keys_expire(
    server: tuple[Server, Path], kit: AgencyKit
) -> None:
    running, _ = server
    with kit.client(Role.cad) as cad:
        old = post(cad, person={"cad_person_id": CAD_ID}, ago=timedelta(days=3))
        recent = post(cad, person={"cad_person_id": CAD_ID}, ago=timedelta(days=1))
        now = post(cad, person={"cad_person_id": CAD_ID})
    assert (now["contacts"]["person"], now["contacts"]["place"]) == (1, 1)

    def filed(call: dict[str, Any]) -> int:
        return len(
            running.uow.read_sync(
                lambda tx: tx.session.execute(
                    select(col(ContactKey.id)).where(
                        col(ContactKey.call_id) == uuid.UUID(call["id"])
                    )
                ).all()
            )
        )

    assert filed(old) == 2  # its place and its person
    # housekeeping's purge (run here rather than waiting its ten minutes)
    running.uow.write_sync(forget_old_contacts, keep=timedelta(days=2), limit=1000)
    assert (filed(old), filed(recent), filed(now)) == (0, 2, 2)


def test_agencies_do_not_see_each_others_people(server: tuple[Server, Path]) -> None:
    running, _ = server
    one, two = new_agency(running), new_agency(running)
    with one.client(Role.dispatcher) as a, two.client(Role.dispatcher) as b:
        post(a, person={"cad_person_id": "SHARED-1"})
        seen = post(b, person={"cad_person_id": "SHARED-1"})
    assert (seen["contacts"]["person"], seen["contacts"]["place"]) == (0, 0)

    def keys(agency_id: Any) -> set[str]:
        return set(
            running.uow.read_sync(
                lambda tx: tx.session.execute(
                    select(col(ContactKey.key)).where(
                        col(ContactKey.agency_id) == agency_id,
                        col(ContactKey.key).startswith("person:"),
                    )
                ).scalars()
            )
        )

    # the same identifier hashes apart in each agency: keyed, not a bare digest
    assert keys(one.id) and keys(two.id) and not keys(one.id) & keys(two.id)
    bare = hashlib.sha256(b"SHARED-1").hexdigest()
    assert all(bare not in k for k in keys(one.id) | keys(two.id))


def test_a_responder_reads_no_contacts(kit: AgencyKit) -> None:
    with kit.client(Role.dispatcher) as desk:
        clinician = responder(desk, kind="clinician")
        call = post(desk, person={"cad_person_id": CAD_ID})
        assert call["contacts"] is not None
    with kit.client(Role.responder, responder_id=clinician["id"]) as phone:
        seen = phone.get(f"/v1/calls/{call['id']}").json()
    assert seen["contacts"] is None
    assert "contacts" in seen["withheld"]


@pytest.mark.parametrize(
    ("person", "says"),
    [
        ({"name": NAME}, "name and date_of_birth go together"),
        ({"date_of_birth": BIRTHDAY}, "name and date_of_birth go together"),
        ({}, "give cad_person_id, or name with date_of_birth"),
        ({"cad_person_id": "has spaces"}, "printable characters without spaces"),
        ({"cad_person_id": CAD_ID, "diagnosis": "F20"}, "diagnosis"),
        ({"name": NAME, "date_of_birth": "14/03/1987"}, "date_of_birth"),
    ],
)
def test_a_person_that_cannot_be_read_is_refused_and_nothing_is_written(
    kit: AgencyKit, person: dict[str, Any], says: str
) -> None:
    with kit.client(Role.dispatcher) as desk:
        body = call_body()
        body["person"] = person
        refused = desk.post("/v1/calls", json=body)
        assert refused.status_code == 422
        assert says in refused.text
        assert desk.get("/v1/calls").json() == []


def test_the_identifiers_never_reach_the_database_or_the_logs(
    server: tuple[Server, Path], kit: AgencyKit
) -> None:
    running, where = server
    with kit.client(Role.cad) as cad:
        post(cad, person={"cad_person_id": CAD_ID, "name": NAME, "date_of_birth": BIRTHDAY})
        # a refused body is logged nowhere either
        body = call_body()
        body["person"] = {"name": NAME}
        assert cad.post("/v1/calls", json=body).status_code == 422
    # every row of every table, on either backend
    rows = running.uow.read_sync(
        lambda tx: [
            repr(tuple(row))
            for table in metadata.sorted_tables
            for row in tx.session.execute(select(table))
        ]
    )
    dumped = "\n".join(rows)
    for secret in (CAD_ID, NAME, "de la Cruz", BIRTHDAY):
        assert secret not in dumped
    # and the files themselves (SQLite keeps old pages in its WAL), and the log
    files = [running.log, *where.glob("corespond.db*")]
    assert running.log.stat().st_size > 0
    for path in files:
        text = path.read_bytes()
        for secret in (CAD_ID, NAME, "de la Cruz", BIRTHDAY):
            assert secret.encode() not in text, f"{secret!r} found in {path.name}"
            assert secret.encode("utf-16-le") not in text
