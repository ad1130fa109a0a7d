"""Schemathesis against the OpenAPI schema, as each role: no 5xx, and no answer the
schema does not describe (status, content type, body). A bounded number of examples
per operation keeps it in `make test`; `CORESPOND_FUZZ_EXAMPLES` asks for more.

Schema-valid requests may still be refused with 422 for rules a JSON schema cannot
state (a reused Idempotency-Key with another body, a call received over a week
ago, an accepted offer declined), so the "valid data is accepted" check is off."""

import os
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Ok

from models.vocabulary import Role
from tests.conftest import AgencyKit, Server, new_agency
from tests.service.factories import post_call, responder

EXAMPLES = int(os.environ.get("CORESPOND_FUZZ_EXAMPLES", "15"))
ROLES = (Role.admin, Role.supervisor, Role.dispatcher, Role.cad, Role.responder)


@pytest.fixture(scope="module")
def fuzzed_agency(server: Server) -> AgencyKit:
    return new_agency(server)


@pytest.fixture(scope="module")
def tokens(fuzzed_agency: AgencyKit) -> dict[Role, str]:
    """A token per role, in an agency with a responder and a call to find."""
    with fuzzed_agency.client(Role.dispatcher) as desk:
        person = responder(desk, kind="clinician")
        post_call(desk)
    return {
        role: fuzzed_agency.token(
            role, responder_id=uuid.UUID(person["id"]) if role == Role.responder else None
        )
        for role in ROLES
    }


@pytest.fixture(scope="module")
def api_schema(server: Server) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def test_every_operation_answers_as_documented_for_every_role(
    api_schema: schemathesis.BaseSchema, server: Server, tokens: dict[Role, str]
) -> None:
    # Schemathesis' own pytest plugin does not run under pytest 9 yet, so each operation's
    # strategy is driven by Hypothesis here.
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result}"
        operations.append(result.ok())
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def answers_as_documented(case: schemathesis.Case[Any]) -> None:
            for role in ROLES:
                case.call_and_validate(
                    base_url=server.url,
                    headers={"Authorization": f"Bearer {tokens[role]}"},
                    excluded_checks=[positive_data_acceptance],
                )

        answers_as_documented()
