"""`/v1/rules`, `/v1/plans/preview` and `/v1/reports/unserved`: an agency's programme,
what it would do to a call, and the calls it did not serve."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from models.call import PlanPreview, PreviewRequest
from models.columns import UTCMoment
from models.rules import RulesPublic, RulesVersion, UnservedReport
from service.rules import operations
from service.web.deps import CurrentActor, State
from service.web.responses import errors

router = APIRouter(tags=["programme rules"])

_DOCUMENT = Body(
    description="The programme (docs/programme-rules.md): `timezone`, `kinds`, `areas`, "
    "`teams`, `rules`. The `document` of `GET /v1/rules` is accepted back unchanged.",
    openapi_examples={
        "today": {
            "summary": "The default: today's plan",
            "value": {
                "timezone": "UTC",
                "teams": {"clinician": {"seats": [{"kind": "clinician"}]}},
                "rules": [{"name": "everyone", "send": "clinician"}],
            },
        }
    },
)


@router.get("/v1/rules", responses=errors(403))
async def get_rules(actor: CurrentActor, state: State) -> RulesPublic:
    """The agency's programme in force: its version, who set it and when, and the
    document."""
    return await state.uow.read(operations.read_rules, principal=actor.who)


@router.put("/v1/rules", responses=errors(403, 422))
async def put_rules(
    document: Annotated[dict[str, Any], _DOCUMENT], actor: CurrentActor, state: State
) -> RulesPublic:
    """Replace the agency's programme (admins and supervisors). The whole document is
    validated: an invalid one is refused with every error as `{path, value, message}`
    under `errors`, and changes nothing. A valid one becomes the next version, in force
    for the next call on every server; the audit trail keeps the old and new version."""
    return await state.uow.write_as(actor, operations.replace_rules, by=actor, document=document)


@router.get("/v1/rules/history", responses=errors(403))
async def rules_history(actor: CurrentActor, state: State) -> list[RulesVersion]:
    """Every version of the agency's programme, newest first."""
    return await state.uow.read(operations.list_versions, principal=actor.who)


@router.get("/v1/rules/history/{version}", responses=errors(403, 404))
async def rules_version(
    version: Annotated[int, Path(ge=1, le=2**31 - 1)], actor: CurrentActor, state: State
) -> RulesPublic:
    """One past (or the present) version of the programme, with its document."""
    return await state.uow.read(operations.read_version, principal=actor.who, version=version)


@router.post("/v1/plans/preview", responses=errors(403))
async def preview_plan(body: PreviewRequest, actor: CurrentActor, state: State) -> PlanPreview:
    """What the programme in force would send to this call at `at` (default now): the
    rule, the team's seats, EMS, the fallbacks and why, and the rules the call is
    eligible for. Nothing is dispatched or written, and who is on duty does not matter."""
    return await state.uow.read(operations.preview_plan, principal=actor.who, body=body)


@router.get("/v1/reports/unserved", responses=errors(403))
async def unserved_report(
    actor: CurrentActor,
    state: State,
    start: Annotated[
        UTCMoment, Query(alias="from", description="Calls received at or after (ISO 8601).")
    ],
    end: Annotated[UTCMoment, Query(alias="to", description="…and before (ISO 8601).")],
) -> UnservedReport:
    """The eligible calls received in [from, to) that did not get the team of a rule
    they were eligible for, counted by reason, rule and hour of the week (in the
    programme's zone); with the calls behind them for supervisors, admins and
    dispatchers (CAD tokens get the counts)."""
    return await state.uow.read(
        operations.report_unserved, principal=actor.who, start=start, end=end
    )
