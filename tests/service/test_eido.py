"""A CAD speaks NENA's EIDO over real HTTP: an incident sent in becomes a call (a later
EIDO for it updates that call), and a call is read back as an EIDO that NENA's own
schema accepts, showing each reader only what it may see."""

import uuid
from typing import Any

import httpx
from shapely.geometry import Polygon
from sqlalchemy import select
from sqlmodel import col

from models.call import Call
from models.vocabulary import Role
from service.store.transaction import Tx
from tests.conftest import AgencyKit
from tests.service.eido_build import SENT_AT, circle, eido, point, polygon
from tests.service.eido_schema import nena_sample, schema_errors
from tests.service.factories import NEXT_YEAR, audit_records, north_of, post_call, responder

NORRISTOWN = (40.1215, -75.3399)


def send(client: httpx.Client, document: dict[str, Any], status: int = 201) -> dict[str, Any]:
    answer = client.post("/v1/eido", json=document)
    assert answer.status_code == status, answer.text
    result: dict[str, Any] = answer.json()
    return result


def read_eido(client: httpx.Client, call_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/calls/{call_id}/eido")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    assert schema_errors(document) == []
    return document


def pos_of(document: dict[str, Any]) -> tuple[float, float]:
    """The point of the EIDO's (only) location."""
    xml = document["locationComponent"][0]["locationByValue"]
    said = xml.split("<gml:pos>")[1].split("</gml:pos>")[0].split()
    return float(said[0]), float(said[1])


def calls_of(client: httpx.Client) -> list[dict[str, Any]]:
    answer = client.get("/v1/calls")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def kept_with(agency: AgencyKit, call_id: str) -> dict[str, Any] | None:
    def read(tx: Tx) -> dict[str, Any] | None:
        kept: dict[str, Any] | None = tx.session.execute(
            select(col(Call.eido_kept)).where(col(Call.id) == uuid.UUID(call_id))
        ).scalar_one()
        return kept

    return agency.server.uow.read_sync(read)


def test_a_point_eido_makes_a_call_and_comes_back_as_an_eido_nena_accepts(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(500), name="Sam Okafor")
    sent = eido(
        location=point(*NORRISTOWN),
        priority=2,
        notes=["Caller's brother is <b>agitated</b> &amp; pacing.", "He has not slept."],
        caller=True,
    )
    assert schema_errors(sent) == []
    with agency.client(Role.cad) as cad:
        taken = send(cad, sent)
        assert taken["created"] is True
        assert "$.agencyComponent" in taken["unmapped"]
        assert "$.incidentComponent.incidentTypeInternalText" in taken["unmapped"]
        assert taken["not_kept"] == ["$.personComponent"]

        call = cad.get(f"/v1/calls/{taken['id']}").json()
        assert call["external_id"] == sent["incidentComponent"]["$id"]
        assert (call["category"], call["priority"]) == ("mental_health_crisis", 2)
        assert (call["location"]["lat"], call["location"]["lon"]) == NORRISTOWN
        assert call["narrative"] == "Caller's brother is agitated & pacing.\n\nHe has not slept."
        assert [a["responder_id"] for a in call["assignments"]] == [clinician["id"]]

        back = read_eido(cad, taken["id"])
    incident = back["incidentComponent"]
    assert back["$id"] == incident["$id"] == sent["incidentComponent"]["$id"]
    assert incident["incidentTypeInternalCode"] == "mental_health_crisis"
    assert incident["incidentCommonPriorityNumber"] == 2
    assert pos_of(back) == NORRISTOWN
    notes = [n["notesActionComments"] for n in back["notesComponent"]]
    assert "Caller's brother is agitated &amp; pacing.<br><br>He has not slept." in notes
    (unit,) = back["emergencyResourceComponent"]
    assert unit["emergencyResourceName"] == "Sam Okafor"
    assert unit["primaryUnitStatusRegistryText"] == "Notified"
    assert unit["unitStatusInternal"] == ["offered"] and unit["eta"]
    assert "dispositionComponent" not in incident

    kept = kept_with(agency, taken["id"])
    assert kept is not None
    assert kept["$.lastUpdateTimeStamp"] == SENT_AT  # the EIDO's own time, as sent
    assert kept["$.agencyComponent"] == sent["agencyComponent"]
    assert "Jane Q. Caller" not in str(kept)


def test_a_circle_is_taken_at_its_centre_and_a_polygon_at_its_centroid(
    agency: AgencyKit,
) -> None:
    corners = [(40.10, -75.35), (40.10, -75.33), (40.12, -75.33), (40.13, -75.34)]
    centroid = Polygon([(lon, lat) for lat, lon in corners]).centroid
    with agency.client(Role.cad) as cad:
        round_ = send(cad, eido(location=circle(40.2001, -75.2002, 250.0)))
        shaped = send(cad, eido(location=polygon(corners)))
        assert pos_of(read_eido(cad, round_["id"])) == (40.2001, -75.2002)
        lat, lon = pos_of(read_eido(cad, shaped["id"]))
    assert abs(lat - centroid.y) < 1e-6 and abs(lon - centroid.x) < 1e-6
    assert 40.10 < lat < 40.13  # inside, not a corner


def test_a_second_eido_for_the_same_incident_updates_its_call(agency: AgencyKit) -> None:
    first = eido(incident_type="WelfareCheck", priority=3, notes=["Neighbour worried."])
    incident = first["incidentComponent"]["$id"]
    with agency.client(Role.cad) as cad:
        made = send(cad, first)
        later = eido(
            incident=incident,
            incident_type="Suicide",
            priority=1,
            notes=["Neighbour worried.", "Now says he has pills."],
            cautions=["Weapon"],
        )
        again = send(cad, later, status=200)
        assert (again["id"], again["created"]) == (made["id"], False)
        same = send(cad, later, status=200)  # the same EIDO again changes nothing
        assert same["id"] == made["id"]

        mine = [c for c in calls_of(cad) if c["external_id"] == incident]
    assert len(mine) == 1
    call = mine[0]
    assert (call["category"], call["priority"]) == ("suicidal_ideation", 1)
    assert call["risk"]["weapon"] is True
    assert call["narrative"] == "Neighbour worried.\n\nNow says he has pills."


def test_a_refused_update_leaves_the_call_as_it_was(agency: AgencyKit) -> None:
    first = eido(notes=["First note."])
    with agency.client(Role.cad) as cad:
        made = send(cad, first)
        nowhere = eido(incident=first["$id"], notes=["Changed."], location="<presence/>")
        assert cad.post("/v1/eido", json=nowhere).status_code == 422
        assert cad.get(f"/v1/calls/{made['id']}").json()["narrative"] == "First note."


def test_a_call_taken_over_http_reads_as_an_eido_too(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    call = post_call(dispatcher, weapon=True, narrative="Knife in hand.")
    back = read_eido(dispatcher, call["id"])
    assert back["$id"] == f"urn:emergency:uid:incidentid:{uuid.UUID(call['id']).hex}:corespond"
    assert back["incidentComponent"]["internalIncidentId"] == call["id"]
    assert [c["cautionTypeInternalText"] for c in back["cautionComponent"]] == ["weapon"]
    assert "emergencyResourceComponent" not in back  # nobody free to send


def test_the_person_an_incident_is_about_counts_as_a_repeat_contact_unkept(
    agency: AgencyKit,
) -> None:
    with agency.client(Role.cad) as cad:
        first = send(cad, eido(subject=("Alex", "1990-04-02"), caller=True))
        again = send(cad, eido(subject=("alex", "1990-04-02"), location=point(40.3, -75.1)))
        caller_only = send(cad, eido(caller=True, location=point(40.5, -75.0)))
        assert first["not_kept"] == again["not_kept"] == ["$.personComponent"]
        seen = {
            t["id"]: cad.get(f"/v1/calls/{t['id']}").json()["contacts"]
            for t in (first, again, caller_only)
        }
    assert seen[first["id"]]["person"] == 0
    assert seen[again["id"]]["person"] == 1  # the same person, another incident
    assert seen[caller_only["id"]]["person"] is None  # a caller is not who it is about
    assert "Alex" not in str(kept_with(agency, again["id"]))


def test_a_later_eido_elsewhere_keeps_the_calls_place_and_says_so(agency: AgencyKit) -> None:
    first = eido(location=point(*NORRISTOWN))
    with agency.client(Role.cad) as cad:
        made = send(cad, first)
        moved = eido(incident=first["$id"], location=point(40.3, -75.1))
        again = send(cad, moved, status=200)
        assert "$.locationComponent[0]" in again["unmapped"]
        assert pos_of(read_eido(cad, made["id"])) == NORRISTOWN


def test_nena_own_sample_is_refused_naming_the_address_it_has(agency: AgencyKit) -> None:
    sample = nena_sample()
    assert schema_errors(sample) == []  # it is a valid EIDO: only its place is unusable
    with agency.client(Role.cad) as cad:
        answer = cad.post("/v1/eido", json=sample)
        assert answer.status_code == 422, answer.text
        refusal = answer.json()
        assert refusal["error"] == "ValidationError"
        assert "no coordinates" in refusal["detail"]
        assert "42 W Cellular Street, Wilmington, DE, US" in refusal["detail"]
        assert refusal["errors"][0]["path"] == "$.locationComponent"
        assert calls_of(cad) == []


def test_nena_sample_with_a_point_is_a_call_without_its_callers_details(
    agency: AgencyKit,
) -> None:
    """A call transfer has no incident: the EIDO's own `$id` names the incident, the
    agency's default category applies, and the caller's details are not stored."""
    sample = nena_sample()
    pidf = sample["locationComponent"][0]["locationByValue"]
    with_point = pidf.replace(
        "<gp:location-info>",
        '<gp:location-info><gml:Point xmlns:gml="http://www.opengis.net/gml" '
        'srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>39.7447 -75.5484</gml:pos></gml:Point>',
    )
    assert with_point != pidf
    sample["locationComponent"][0]["locationByValue"] = with_point
    assert schema_errors(sample) == []
    with agency.client(Role.cad) as cad:
        taken = send(cad, sample)
        assert taken["not_kept"] == ["$.callbackComponent", "$.personComponent"]
        assert {"$.callComponent", "$.agentComponent", "$.locationComponent[1]"} <= set(
            taken["unmapped"]
        )
        call = cad.get(f"/v1/calls/{taken['id']}").json()
        assert call["external_id"] == sample["$id"]
        assert call["category"] == "mental_health_crisis"  # the documented default
        assert call["location"]["address"] == "42 W Cellular Street, Wilmington, DE, US"
        assert call["narrative"] is None
        read_eido(cad, taken["id"])
    kept = kept_with(agency, taken["id"])
    assert kept is not None and "8195551212" not in str(kept)  # the callback number


def test_an_eido_that_breaks_the_schema_is_refused_with_each_path(agency: AgencyKit) -> None:
    broken = eido()
    del broken["eidoVersion"]
    del broken["incidentComponent"]["incidentTypeCommonRegistryText"]
    broken["locationComponent"][0]["lastUpdateTimeStamp"] = "yesterday"
    broken["incidentComponent"]["incidentCommonPriorityNumber"] = "2"
    assert schema_errors(broken)  # NENA's schema refuses it too
    with agency.client(Role.cad) as cad:
        answer = cad.post("/v1/eido", json=broken)
        assert answer.status_code == 422, answer.text
        errors = {e["path"]: e["message"] for e in answer.json()["errors"]}
        assert errors["$.eidoVersion"] == "eidoVersion is required"
        assert errors["$.incidentComponent.incidentTypeCommonRegistryText"] == (
            "incidentTypeCommonRegistryText is required"
        )
        assert "lastUpdateTimeStamp" in errors["$.locationComponent[0].lastUpdateTimeStamp"]
        assert (
            "incidentCommonPriorityNumber"
            in errors["$.incidentComponent.incidentCommonPriorityNumber"]
        )
        assert "eidoVersion" in answer.json()["detail"]

        unreadable = eido(location="<presence><gml:Point>")
        answer = cad.post("/v1/eido", json=unreadable)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["path"] == "$.locationComponent[0].locationByValue"

        bomb = eido(location='<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]><p>&a;</p>')
        answer = cad.post("/v1/eido", json=bomb)
        assert answer.status_code == 422, answer.text
        assert "locationByValue" in answer.json()["detail"]

        deep = eido()
        deep["mediaComponent"] = "[" * 500 + "]" * 500  # replaced below: nested lists
        deep_body = cad.build_request("POST", "/v1/eido", json=deep).content.replace(
            b'"' + b"[" * 500 + b"]" * 500 + b'"', b"[" * 500 + b"]" * 500
        )
        answer = cad.post(
            "/v1/eido", content=deep_body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
        assert "deeper than" in answer.json()["detail"]
        assert calls_of(cad) == []


def test_senders_casing_and_a_list_of_one_incident_are_read(agency: AgencyKit) -> None:
    sent = eido()
    sent["EIDOVersion"] = sent.pop("eidoVersion")
    sent["LastUpdateTimeStamp"] = sent.pop("lastUpdateTimeStamp")
    sent["incidentComponent"] = [sent["incidentComponent"]]
    with agency.client(Role.cad) as cad:
        assert send(cad, sent)["created"] is True


def test_an_agency_maps_its_own_incident_types(agency: AgencyKit) -> None:
    with agency.client(Role.admin) as admin, agency.client(Role.cad) as cad:
        assert admin.get("/v1/eido/mapping").json()["default"] == "mental_health_crisis"
        mapping = {"internal_codes": {"10-96": "overdose"}, "registry_texts": {}, "default": None}
        assert cad.put("/v1/eido/mapping", json=mapping).status_code == 403
        put = admin.put("/v1/eido/mapping", json=mapping)
        assert put.status_code == 200, put.text
        assert put.json()["builtin"]["WelfareCheck"] == "welfare_check"

        made = send(cad, eido(incident_type="Other", internal_code="10-96"))
        assert cad.get(f"/v1/calls/{made['id']}").json()["category"] == "overdose"
        answer = cad.post("/v1/eido", json=eido(incident_type="Noise", internal_code="10-11"))
        assert answer.status_code == 422, answer.text
        assert "PUT /v1/eido/mapping" in answer.json()["detail"]
        assert [c["id"] for c in calls_of(cad)] == [made["id"]]


def test_a_retry_with_its_idempotency_key_gets_the_first_answer(agency: AgencyKit) -> None:
    sent = eido()
    with agency.client(Role.cad) as cad:
        headers = {"Idempotency-Key": "eido-1"}
        first = cad.post("/v1/eido", json=sent, headers=headers)
        again = cad.post("/v1/eido", json=sent, headers=headers)
        other = cad.post("/v1/eido", json=eido(), headers=headers)
        assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        assert len(calls_of(cad)) == 1


def test_a_call_taken_as_an_eido_counts_in_the_intake_figures(agency: AgencyKit) -> None:
    before = agency.server.metrics()
    sent = eido()
    with agency.client(Role.cad) as cad:
        send(cad, sent)
        send(cad, sent, status=200)  # an update is not a new call
    after = agency.server.metrics()
    for figure in ("corespond_calls_created_total", "corespond_call_intake_seconds_count"):
        assert after[figure] - before.get(figure, 0) == 1, figure


def test_responders_read_only_what_they_may_in_the_eido(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    officer = responder(dispatcher, kind="officer", cit_until=NEXT_YEAR, name="Ofc. Ruiz")
    clinician = responder(dispatcher, kind="clinician", at=north_of(300), name="Sam Okafor")
    with agency.client(Role.cad) as cad:
        taken = send(
            cad,
            eido(incident_type="Overdose", cautions=["Weapon"], notes=["Took pills; has a knife."]),
        )
        call = cad.get(f"/v1/calls/{taken['id']}").json()
    offers = {a["role"]: a for a in call["assignments"]}
    assert set(offers) == {"officer", "clinician"}

    with agency.client(Role.responder, responder_id=officer["id"]) as car:
        assert car.post("/v1/eido", json=eido()).status_code == 403
        assert car.post(f"/v1/assignments/{offers['officer']['id']}/accept").status_code == 200
        seen = read_eido(car, taken["id"])
        incident = seen["incidentComponent"]
        assert incident["incidentTypeCommonRegistryText"] == "BehavioralHealth"
        assert "incidentTypeInternalCode" not in incident  # 42 CFR Part 2
        assert "pills" not in str(seen) and "Overdose" not in str(seen)
        assert [u["emergencyResourceName"] for u in seen["emergencyResourceComponent"]] == [
            "Ofc. Ruiz"
        ]
        assert [c["cautionTypeInternalText"] for c in seen["cautionComponent"]] == ["weapon"]

    with agency.client(Role.responder, responder_id=clinician["id"]) as van:
        assert "pills" not in str(read_eido(van, taken["id"]))  # not before it accepts
        assert van.post(f"/v1/assignments/{offers['clinician']['id']}/accept").status_code == 200
        seen = read_eido(van, taken["id"])
        assert "Took pills; has a knife." in str(seen["notesComponent"])
        assert seen["incidentComponent"]["incidentTypeInternalCode"] == "overdose"

    stranger = responder(dispatcher, kind="clinician", at=north_of(90_000))
    with agency.client(Role.responder, responder_id=stranger["id"]) as other:
        assert other.get(f"/v1/calls/{taken['id']}/eido").status_code == 404
    with agency.client(Role.supervisor) as supervisor:
        reads = audit_records(
            supervisor, target=f"call:{taken['id']}", action="GET /v1/calls/{call_id}/eido"
        )
    read_fields = [r["detail"]["calls"][taken["id"]] for r in reads if r["outcome"] == "success"]
    assert ["narrative", "category"] in read_fields


def test_a_closed_call_comes_back_with_its_units_progress_and_disposition(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=north_of(800))
    with agency.client(Role.cad) as cad:
        taken = send(cad, eido())
        (offer,) = cad.get(f"/v1/calls/{taken['id']}").json()["assignments"]
        with agency.client(Role.responder, responder_id=clinician["id"]) as van:
            assert van.post(f"/v1/assignments/{offer['id']}/accept").status_code == 200
            moving = van.post(f"/v1/assignments/{offer['id']}/status", json={"status": "en_route"})
            assert moving.status_code == 200, moving.text
            unit = read_eido(cad, taken["id"])["emergencyResourceComponent"][0]
            assert (unit["primaryUnitStatusRegistryText"], unit["unitStatusInternal"]) == (
                "EnRoute",
                ["en_route"],
            )
            for step in ({"status": "on_scene"}, {"status": "cleared", "disposition": "referred"}):
                moved = van.post(f"/v1/assignments/{offer['id']}/status", json=step)
                assert moved.status_code == 200, moved.text
        closed = read_eido(cad, taken["id"])
        kept = kept_with(agency, taken["id"])
        refused = cad.post("/v1/eido", json=eido(incident=closed["$id"], priority=1))
        assert refused.status_code == 409, refused.text
        assert "closed" in refused.json()["detail"]
        assert kept_with(agency, taken["id"]) == kept  # nothing of it was kept
    (disposition,) = closed["incidentComponent"]["dispositionComponent"]
    assert disposition["dispositionCommonRegistryCode"] == "referred"
    assert closed["emergencyResourceComponent"][0]["primaryUnitStatusRegistryText"] == "Available"
    assert closed["incidentComponent"]["incidentStatusInternalText"] == ["closed"]
