"""Small keyword-only factories that act through the real HTTP API, and the audit trail
as a supervisor reads it."""

from datetime import date, timedelta
from typing import Any

import httpx

NORRISTOWN = (40.1215, -75.3399)
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()
LAST_YEAR = (date.today() - timedelta(days=365)).isoformat()


def north_of(metres: float, origin: tuple[float, float] = NORRISTOWN) -> tuple[float, float]:
    """A point `metres` due north of `origin` (about 111 km a degree of latitude)."""
    return origin[0] + metres / 111_195, origin[1]


def responder(
    client: httpx.Client,
    *,
    kind: str,
    at: tuple[float, float] | None = NORRISTOWN,
    status: str = "available",
    cit_until: str | None = None,
    languages: list[str] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Register a responder, then place it and set its status, as a dispatcher would."""
    body: dict[str, Any] = {"kind": kind, "name": name or f"{kind} test"}
    if cit_until is not None:
        body["cit_certified_until"] = cit_until
    if languages is not None:
        body["languages"] = languages
    created = client.post("/v1/responders", json=body)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    if at is not None:
        moved = client.put(f"/v1/responders/{rid}/position", json={"lat": at[0], "lon": at[1]})
        assert moved.status_code == 200, moved.text
    if status != "off_duty":
        changed = client.put(f"/v1/responders/{rid}/status", json={"status": status})
        assert changed.status_code == 200, changed.text
    result: dict[str, Any] = client.get(f"/v1/responders/{rid}").json()
    return result


def call_body(
    *,
    at: tuple[float, float] = NORRISTOWN,
    category: str = "mental_health_crisis",
    weapon: bool = False,
    violence: bool = False,
    medical: bool = False,
    priority: int = 2,
    address: str = "1 Main St, Norristown",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "location": {"lat": at[0], "lon": at[1], "address": address},
        "category": category,
        "risk": {"weapon": weapon, "violence": violence, "medical": medical},
        "priority": priority,
        **extra,
    }


def post_call(client: httpx.Client, **kwargs: Any) -> dict[str, Any]:
    response = client.post("/v1/calls", json=call_body(**kwargs))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def audit_records(reader: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    """`GET /v1/audit` with these filters, as a supervisor or admin reads it."""
    answer = reader.get("/v1/audit", params=filters)
    assert answer.status_code == 200, answer.text
    records: list[dict[str, Any]] = answer.json()
    return records
