"""`GET /v1/reports/outcomes`: the figures a programme reports, as JSON or CSV."""

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from models.columns import UTCMoment
from models.report import GroupBy, OutcomeReport
from service.outcomes.reports import check_period, report_outcomes
from service.web.deps import CurrentActor, State
from service.web.responses import errors

router = APIRouter(tags=["outcomes"])


@router.get(
    "/v1/reports/outcomes",
    response_model=OutcomeReport,
    responses={
        **errors(403, 422),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    },
)
async def outcome_report(
    request: Request,
    actor: CurrentActor,
    state: State,
    start: Annotated[
        UTCMoment, Query(alias="from", description="Calls received at or after (ISO 8601).")
    ],
    end: Annotated[
        UTCMoment, Query(alias="to", description="…and before (ISO 8601); at most 366 days on.")
    ],
    group_by: Annotated[
        GroupBy | None, Query(description="Also each week, month, team, category or area.")
    ] = None,
) -> Any:
    """The agency's figures for calls received in [from, to) (supervisors and admins),
    defined in docs/outcomes.md: volume, eligibility, times (p50, p90), dispositions,
    diversion and the rates, referrals, follow-up, repeat contacts and utilisation.
    Whole-agency figures are exact; in `groups` a count from 1 to 4 shows as `"<5"` and
    a rate from it is null. `Accept: text/csv` answers a row for the whole agency (key
    `all`) and one a group."""
    period = check_period(start, end, group_by)
    report = await state.uow.read(
        report_outcomes,
        principal=actor.who,
        period=period,
        repeat_window_days=state.dispatch.repeat_window_days,
    )
    if "text/csv" in request.headers.get("accept", ""):
        name = f"outcomes-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        return Response(
            as_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report


def _flat(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, into)
    elif value is not None:  # a withheld figure is an empty cell (the writer's restval)
        into[prefix] = value


def as_csv(report: OutcomeReport) -> str:
    """One row for the whole agency (`all`), then one a group; a column a figure, named
    by its path in the JSON (`rates.arrest.rate`)."""
    whole = report.model_dump(mode="json", exclude={"from_", "to", "group_by", "groups"})
    rows = [{"key": "all", **whole}]
    rows += [g.model_dump(mode="json") for g in report.groups or []]
    flat: list[dict[str, Any]] = []
    for row in rows:
        cells: dict[str, Any] = {}
        _flat("", row, cells)
        flat.append(cells)
    columns = list(dict.fromkeys(name for cells in flat for name in cells))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()
