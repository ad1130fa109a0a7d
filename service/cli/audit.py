"""`corespond audit`: the audit trail of every agency, and of none, read on the server's
host (records of unknown tokens and unrouted paths belong to no agency)."""

from datetime import datetime
from typing import Any, get_args

import click
from pydantic import ValidationError

from models.columns import iso_utc
from service.audit_log import operations as audit_log
from service.cli.environment import load_settings, run, unit_of_work
from service.trust.audit import AuditQuery


class _Moment(click.ParamType[datetime, Any]):
    """A bound of a search of the trail: ISO 8601 with its offset, as `/v1/audit` takes."""

    name = "ISO-8601"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        try:
            return audit_log.MOMENT.validate_python(value)
        except ValidationError as exc:
            said = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            self.fail(f"{value!r}: {said}", param, ctx)


@click.group()
def audit() -> None:
    """The audit trail, read on the server's host."""


@audit.command("list")
@click.option("--agency", "slug", default=None, help="Only this agency's records.")
@click.option(
    "--no-agency",
    "nobodys",
    is_flag=True,
    help="Only the records of no agency: unknown tokens, unrouted paths.",
)
@click.option("--action", default=None, help="Exactly, e.g. 'POST /v1/calls' or 'logon'.")
@click.option("--outcome", type=click.Choice(get_args(audit_log.Outcome)), default=None)
@click.option("--token-id", type=click.UUID, default=None)
@click.option("--responder-id", type=click.UUID, default=None)
@click.option("--target", default=None, help="e.g. call:<id>.")
@click.option("--since", type=_Moment(), default=None, help="At or after.")
@click.option("--until", type=_Moment(), default=None, help="Before.")
@click.option(
    "--before", type=click.IntRange(1, audit_log.MAX_ID), default=None, help="Ids below this."
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON record a line, with its detail.")
def audit_list(slug: str | None, nobodys: bool, as_json: bool, **filters: Any) -> None:
    """Records of every agency and of none, newest first (this read is recorded too)."""
    if slug is not None and nobodys:
        raise click.UsageError("--agency and --no-agency contradict each other")
    uow, query = unit_of_work(load_settings()), AuditQuery(**filters)
    found = run(
        lambda: uow.write_sync(audit_log.list_on_host, query=query, slug=slug, nobodys=nobodys)
    )
    for r in found:
        if as_json:
            click.echo(r.model_dump_json())
            continue
        at, status = _seconds(r.at), r.status or "-"
        cells = (r.id, at, r.agency or "-", r.role or "-", r.outcome, status, r.source or "-")
        click.echo("  ".join(str(c) for c in cells) + f"  {r.action}  {r.target or ''}".rstrip())


def _seconds(moment: datetime) -> str:
    return iso_utc(moment)[:19] + "Z"
