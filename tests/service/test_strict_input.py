"""Input is taken only as what it says it is: a flag is `true` or `false`, a number is a
JSON number, a date is ISO 8601 text, a page size is digits. Anything looser is refused
with 422 naming the field, and nothing is written.

A CAD that sends `"lon": false` has a bug; storing it as longitude 0.0 would send a
responder to the Gulf of Guinea."""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from models.vocabulary import Role
from tests.conftest import AgencyKit
from tests.service.consoles import console
from tests.service.factories import NORRISTOWN, call_body, post_call, responder

NOW_AS_A_NUMBER = int(time.time()) - 60  # a Unix time pydantic would take as a moment


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`body` with the field at the dotted `path` set to `value` (parents made as needed)."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    *parents, leaf = path.split(".")
    at = copy
    for key in parents:
        at = at.setdefault(key, {})
    at[leaf] = value
    return copy


def test_a_position_given_as_a_flag_is_refused_and_the_responder_stays_put(
    dispatcher: httpx.Client,
) -> None:
    clinician = responder(dispatcher, kind="clinician", at=NORRISTOWN)
    where = f"/v1/responders/{clinician['id']}/position"

    for body, field in (
        ({"lat": 40.12, "lon": False}, "lon"),
        ({"lat": True, "lon": -75.3}, "lat"),
        ({"lat": "40.12", "lon": -75.3}, "lat"),
    ):
        refused = dispatcher.put(where, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"] == "ValidationError"
        assert field in refused.json()["detail"]

    position = dispatcher.get(f"/v1/responders/{clinician['id']}").json()["position"]
    assert (position["lat"], position["lon"]) == NORRISTOWN
    assert dispatcher.put(where, json={"lat": 40, "lon": -75}).status_code == 200, (
        "a whole number is still a number"
    )


LOOSE_CALLS = [
    pytest.param("location.lat", True, id="lat-true"),
    pytest.param("location.lon", False, id="lon-false"),
    pytest.param("location.lat", "40.12", id="lat-text"),
    pytest.param("priority", "2", id="priority-text"),
    pytest.param("priority", True, id="priority-true"),
    pytest.param("priority", 2.0, id="priority-fraction"),
    pytest.param("risk.weapon", "yes", id="weapon-yes"),
    pytest.param("risk.weapon", "true", id="weapon-text"),
    pytest.param("risk.violence", 1, id="violence-1"),
    pytest.param("risk.medical", "1", id="medical-text-1"),
    pytest.param("received_at", NOW_AS_A_NUMBER, id="received-unix-time"),
    pytest.param("received_at", str(NOW_AS_A_NUMBER), id="received-unix-time-text"),
]


@pytest.mark.parametrize(("field", "value"), LOOSE_CALLS)
def test_a_call_with_a_loosely_typed_value_is_refused_and_nothing_is_written(
    dispatcher: httpx.Client, field: str, value: object
) -> None:
    clinician = responder(dispatcher, kind="clinician")

    refused = dispatcher.post("/v1/calls", json=_with(call_body(), field, value))

    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "ValidationError"
    assert field in refused.json()["detail"]
    assert dispatcher.get("/v1/calls").json() == []
    assert dispatcher.get(f"/v1/responders/{clinician['id']}").json()["status"] == "available"


@pytest.mark.parametrize("value", [0, "0", 20270630, "1700000000", 1.5], ids=repr)
def test_a_certification_date_given_as_a_number_is_refused(
    dispatcher: httpx.Client, value: object
) -> None:
    body = {"kind": "officer", "name": "Ofc. Ruiz", "cit_certified_until": value}

    refused = dispatcher.post("/v1/responders", json=body)

    assert refused.status_code == 422, refused.text
    assert "cit_certified_until" in refused.json()["detail"]
    assert dispatcher.get("/v1/responders").json() == []


# What a loose parser would take for each JSON type, and what it would make of it.
STAND_INS: dict[str, list[object]] = {
    "boolean": ["true", "yes", "1", 1, 0],
    "number": [True, False, "40.12", "1"],
    "integer": [True, "2", 2.0],
    "date": [0, "0", 20270630, "1700000000"],
    "date-time": [0, 0.5, "0.5", NOW_AS_A_NUMBER, str(NOW_AS_A_NUMBER)],
}


def _typed_leaves(
    schema: dict[str, Any], node: dict[str, Any], path: str
) -> Iterator[tuple[str, str]]:
    """(dotted path, kind) of every boolean, number, integer, date and date-time field
    under `node`, following `$ref`s and nullable `anyOf`s."""
    if "$ref" in node:
        yield from _typed_leaves(schema, _resolve(schema, node["$ref"]), path)
        return
    for option in node.get("anyOf", []):
        yield from _typed_leaves(schema, option, path)
    kind = node.get("format") if node.get("type") == "string" else node.get("type")
    if kind in STAND_INS:
        yield path, kind
    for name, field in node.get("properties", {}).items():
        yield from _typed_leaves(schema, field, f"{path}.{name}" if path else name)


def _resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = schema
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def test_every_flag_number_and_date_in_every_request_body_is_taken_only_as_itself(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    """Walks the OpenAPI: for each operation with a JSON body, its own example with one
    typed field at a time replaced by a loose stand-in. A field added later is covered
    without anyone remembering to add it here."""
    schema = httpx.get(f"{agency.server.url}/openapi.json").json()
    post_call(dispatcher)  # something in the lists, to see that it stays as it was
    before = (dispatcher.get("/v1/calls").json(), dispatcher.get("/v1/responders").json())
    tried = 0
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            given = content["application/json"]["schema"]
            # an optional body (`claim`: none for oneself) is anyOf its schema and null
            ref = given.get("$ref") or next(
                (s["$ref"] for s in given.get("anyOf", []) if "$ref" in s), None
            )
            if ref is None and template in ("/v1/rules", "/v1/eido"):
                # free-form documents, validated whole against their own schema:
                # test_programme_rules.py, test_eido.py
                continue
            assert ref is not None, f"{method} {template}: a body without a schema of its own"
            body_schema = _resolve(schema, ref)
            example = body_schema["examples"][0]
            # An id nobody has: a body that passes is answered 404 and writes nothing.
            path = template.format_map({p: uuid.uuid4() for p in _path_names(operation)})
            for field, kind in _typed_leaves(schema, body_schema, ""):
                for value in STAND_INS[kind]:
                    refused = dispatcher.request(method, path, json=_with(example, field, value))
                    said = f"{method.upper()} {template} {field}={value!r}: {refused.text}"
                    assert refused.status_code == 422, said
                    assert refused.json()["error"] == "ValidationError", said
                    assert field in refused.json()["detail"], said
                    tried += 1
    assert tried >= 30, "the walk found the calls' and positions' fields"
    after = (dispatcher.get("/v1/calls").json(), dispatcher.get("/v1/responders").json())
    assert after == before


def _path_names(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]


@pytest.mark.parametrize(
    "query",
    [
        "/v1/calls?limit=9223372036854775808",
        "/v1/calls?offset=9223372036854775808",
        "/v1/calls?offset=99999999999999999999999999999999999999999999",
        "/v1/calls?limit=-1",
        "/v1/calls?limit=0",
        "/v1/calls?limit=true",
        "/v1/calls?limit=1.5",
        "/v1/calls?limit=1e3",
        "/v1/calls?limit=5_0",
        "/v1/calls?limit=%2B5",
        "/v1/calls?offset=%20%205",
        "/v1/calls?status=0",
        "/v1/responders?limit=9223372036854775808",
        "/v1/responders?offset=-9223372036854775809",
        "/v1/responders?limit=1.0",
        "/v1/responders?kind=1",
        "/v1/responders?status=true",
    ],
)
def test_out_of_range_and_ambiguous_query_values_are_422_never_500(
    dispatcher: httpx.Client, query: str
) -> None:
    refused = dispatcher.get(query)

    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "ValidationError"
    name = query.split("?")[1].split("=")[0]
    assert refused.json()["detail"].startswith(f"{name}:"), refused.text


def test_a_page_asked_for_plainly_is_served(dispatcher: httpx.Client) -> None:
    post_call(dispatcher)
    assert len(dispatcher.get("/v1/calls?limit=1&offset=0").json()) == 1
    assert dispatcher.get("/v1/responders?limit=500&offset=1000000").json() == []


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "ack", "seq": "5"}, "seq"),
        ({"type": "ack", "seq": True}, "seq"),
        ({"type": "ack", "seq": 5.0}, "seq"),
    ],
)
def test_a_console_message_with_a_loosely_typed_number_gets_an_error_frame(
    agency: AgencyKit, message: dict[str, Any], field: str
) -> None:
    with console(agency.server.ws_url, agency.token(Role.dispatcher)) as desk:
        desk.send(message)
        error = desk.recv()
        assert error["type"] == "error", error
        assert error["error"] == "BadMessage"
        assert field in error["detail"]
        desk.send({"type": "ping"})
        assert desk.recv() == {"type": "pong"}


@pytest.mark.parametrize("resume_after", ["0", True, 0.0], ids=repr)
def test_a_hello_resuming_from_a_loosely_typed_seq_is_closed_with_4400(
    agency: AgencyKit, resume_after: object
) -> None:
    hello = {"type": "hello", "token": agency.token(Role.dispatcher), "resume_after": resume_after}
    frames, closed = _until_closed(agency.server.ws_url, json.dumps(hello))

    assert closed.rcvd is not None
    assert closed.rcvd.code == 4400, frames
    assert frames[0]["error"] == "BadMessage"
    assert "resume_after" in frames[0]["detail"]


def _until_closed(ws_url: str, first: str) -> tuple[list[dict[str, Any]], ConnectionClosed]:
    """Send one message; the frames the server sent back before it closed, and how."""
    frames = []
    with connect(ws_url) as ws:
        ws.send(first)
        try:
            for _ in range(5):
                frames.append(json.loads(ws.recv(timeout=5)))
        except ConnectionClosed as closed:
            return frames, closed
    raise AssertionError(f"the server kept the socket open after {frames}")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        pytest.param(b"{", "not valid JSON at character 1", id="cut-short"),
        pytest.param(b'{"priority": \xff}', "not valid JSON (not UTF-8", id="not-utf-8"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "not valid JSON (nested", id="nested-deep"),
    ],
)
def test_a_body_that_cannot_be_read_is_the_documented_422_and_nothing_is_written(
    dispatcher: httpx.Client, body: bytes, said: str
) -> None:
    refused = dispatcher.post(
        "/v1/calls", content=body, headers={"Content-Type": "application/json"}
    )

    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "ValidationError"
    assert refused.json()["detail"].startswith(f"body: {said}"), refused.text
    assert dispatcher.get("/v1/calls").json() == []


def test_every_operation_that_takes_a_body_documents_the_422_an_unreadable_one_gets(
    agency: AgencyKit,
) -> None:
    schema = httpx.get(f"{agency.server.url}/openapi.json").json()
    with_bodies = [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_bodies) >= 6
    for method, path, operation in with_bodies:
        assert "422" in operation["responses"], f"{method} {path}"
        assert "400" not in operation["responses"], f"{method} {path}"


def test_every_422_is_a_validation_error_whether_the_schema_or_a_rule_refused_it(
    agency: AgencyKit, dispatcher: httpx.Client
) -> None:
    clinician = responder(dispatcher, kind="clinician")
    where = f"/v1/responders/{clinician['id']}/status"

    by_the_schema = dispatcher.put(where, json={"status": "asleep"})
    by_a_rule = dispatcher.put(where, json={"status": "on_scene"})

    for refused in (by_the_schema, by_a_rule):
        assert refused.status_code == 422
        assert refused.json()["error"] == "ValidationError", refused.text
    assert "follows from assignments" in by_a_rule.json()["detail"]
    schema = httpx.get(f"{agency.server.url}/openapi.json").json()
    documented = schema["paths"]["/v1/responders/{responder_id}/status"]["put"]["responses"]
    assert "rule" in documented["422"]["description"]
