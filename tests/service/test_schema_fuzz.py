"""Schemathesis against the OpenAPI schema, as each role: no 5xx, and no answer the
schema does not describe (status, content type, headers, body).

Every operation is driven with schema-valid requests (positive) and with requests that
break the schema (negative: a string where a number goes, a missing field, a value out
of range, a body that is not JSON), each sent with a token of every role: admin,
supervisor, dispatcher, CAD and responder. It is bounded by a number of examples per
operation and mode (`CORESPOND_FUZZ_EXAMPLES`, 15 by default), drawn the same way each
run (`derandomize`). Each operation and mode is a test of its own, named by the
operation, so pytest's timeout stops one that hangs and a failure says where; all of
them take one to two minutes, by the host. (As one test per mode, a slow host took
longer than the timeout over all fifty operations, with nothing hanging.)

The checks that run: `not_a_server_error`, `status_code_conformance`,
`content_type_conformance`, `response_headers_conformance`,
`response_schema_conformance`, `negative_data_rejection` (a request that breaks the
schema is refused) and `ignored_auth` (a successful request, sent again with no token
and with a made-up one, is refused). Left out on purpose:

- `positive_data_acceptance`: schema-valid requests may still be refused with 422 for
  rules a JSON schema cannot state (a reused Idempotency-Key with another body, a call
  received over a week ago, a status that follows from assignments, an accepted offer
  declined); it would report our rules as failures.
- `max_response_time`: no timed assertions in tests; the benchmarks judge speed.
- Generated `Authorization` headers (`with_security_parameters`): the tokens are real
  ones, one per role; absent, made-up, revoked and expired tokens are the auth tests'
  (`test_access.py`, `test_tokens.py`) and `ignored_auth`'s.
- Unknown query parameters (`allow_extra_parameters`): they are ignored, as HTTP APIs
  do (a cache-buster must not break a request), so a negative case made only of one is
  not a schema violation we refuse.

Checks that have nothing to look at in this harness: `missing_required_header` and
`unsupported_method` judge the cases of schemathesis' coverage phase, which its CLI
runner makes and Hypothesis does not (unknown methods are `test_front_door.py`'s);
`allow_header_conformance` judges OPTIONS answers; `use_after_free`,
`ensure_resource_availability` and `object_level_authorization` need a stateful run's
history of created resources and identities (what crosses agencies and responders is
`test_access.py`'s).
"""

import os
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import max_response_time, positive_data_acceptance
from schemathesis.core.result import Ok

from models.vocabulary import Role
from service.app import create_app
from tests.conftest import AgencyKit, Server, new_agency
from tests.service.factories import post_call, responder

EXAMPLES = int(os.environ.get("CORESPOND_FUZZ_EXAMPLES", "15"))
ROLES = (Role.admin, Role.supervisor, Role.dispatcher, Role.cad, Role.responder)
EXCLUDED = [positive_data_acceptance, max_response_time]


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
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    # See the module's docstring for why these two are off.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return schema


def _operations() -> list[Any]:
    """(mode, method, path) of each operation and mode to drive, from the app's own
    schema (the served one is checked to be the same): a negative case only where an
    operation has something to send wrong, its parameters or its body."""
    cases = []
    for path, item in create_app().openapi()["paths"].items():
        for method, definition in item.items():
            if method not in METHODS:
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if mode == GenerationMode.NEGATIVE and not _can_be_wrong(definition):
                    continue
                label = f"{mode}-{method.upper()} {path}"
                cases.append(pytest.param(mode, method.upper(), path, id=label))
    return cases


def _can_be_wrong(definition: dict[str, Any]) -> bool:
    """An operation with neither parameters nor a body has nothing to send wrong."""
    return bool(definition.get("parameters") or definition.get("requestBody"))


METHODS = {"get", "post", "put", "patch", "delete"}
OPERATIONS = _operations()


def test_the_served_schema_has_the_operations_driven(api_schema: schemathesis.BaseSchema) -> None:
    served = set()
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result}"
        served.add((result.ok().method.upper(), result.ok().path))
    driven = {(param.values[1], param.values[2]) for param in OPERATIONS}
    assert served == driven
    assert len(served) >= 10


@pytest.mark.parametrize(("mode", "method", "path"), OPERATIONS)
def test_every_operation_answers_as_documented_for_every_role(
    api_schema: schemathesis.BaseSchema,
    server: Server,
    tokens: dict[Role, str],
    mode: GenerationMode,
    method: str,
    path: str,
) -> None:
    # Schemathesis' own pytest plugin does not run under pytest 9 yet, so the
    # operation's strategy is driven by Hypothesis here.
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
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
                excluded_checks=EXCLUDED,
            )

    answers_as_documented()
