"""The `corespond` command: serve, migrate, agencies, tokens, the audit trail, demo."""

import sys
import uuid
from datetime import timedelta

import click

from models.columns import iso_utc, utcnow
from models.vocabulary import Role
from service.agencies import operations as agencies
from service.agencies import tokens
from service.cli import demo
from service.cli.audit import audit
from service.cli.environment import load_settings, run, unit_of_work
from service.cli.roads import roads
from service.cli.rules import rules
from service.cli.serving import refuse_a_taken_metrics_port, refuse_a_taken_port, where_to_go
from service.resources import operations as resources
from service.store.engine import make_engine
from service.store.migrate import upgrade


@click.group()
def main() -> None:
    """CoRespond: dispatch for behavioural-health calls."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on (CORESPOND_HOST).")
@click.option("--port", type=int, default=None, help="Port (CORESPOND_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Migrate the database, then serve HTTP and WebSockets."""
    import uvicorn

    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    refuse_a_taken_port(host, port)
    refuse_a_taken_metrics_port(settings.metrics_host, settings.metrics_port)
    upgrade(make_engine(settings))
    click.echo(where_to_go(host, port), err=True)
    # The writes run in worker threads that give up the GIL at every database call;
    # with the event loop busy, getting it back waited out the switch interval each
    # time (5 ms by default), inside the write lock.
    sys.setswitchinterval(settings.gil_switch_interval_s)
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ws_max_size=64 * 1024,  # a console message is small; a larger one closes with 1009
        # Frames are small JSON: compressing each cost more CPU than it saved bytes
        # (3 % of a loaded server, for a few hundred bytes a frame).
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
    )


@main.command()
def migrate() -> None:
    """Bring the database schema to the latest migration."""
    upgrade(make_engine(load_settings()))
    click.echo("schema is up to date")


@main.group()
def agency() -> None:
    """Agencies (tenants)."""


@agency.command("create")
@click.argument("slug")
@click.option("--name", default=None, help="Display name; defaults to the slug.")
@click.option(
    "--offer-timeout",
    "offer_timeout_s",
    type=int,
    default=60,
    show_default=True,
    help="Seconds a responder has to accept an offer before it moves on.",
)
def agency_create(slug: str, name: str | None, offer_timeout_s: int) -> None:
    """Create an agency."""
    uow = unit_of_work(load_settings())
    created = run(
        lambda: uow.write_sync(
            agencies.create_agency, slug=slug, name=name, offer_timeout_s=offer_timeout_s
        )
    )
    click.echo(f"created agency {created.slug} ({created.id})")


@agency.command("update")
@click.argument("slug")
@click.option("--offer-timeout", "offer_timeout_s", type=int, default=None)
@click.option(
    "--officers-see-narrative/--no-officers-see-narrative",
    default=None,
    help="Whether officers read a call's narrative once they accept (default: no).",
)
@click.option(
    "--officers-see-substance-use/--no-officers-see-substance-use",
    default=None,
    help="Whether officers see that a call concerns substance use (default: no; 42 CFR Part 2).",
)
@click.option(
    "--checkin-interval-s",
    type=int,
    default=None,
    help="Seconds on scene between check-ins (5 to 7200; 0 turns them off; default 900).",
)
@click.option(
    "--checkin-grace-s",
    type=int,
    default=None,
    help="Seconds after the prompt before a check-in is missed (5 to 3600; default 300).",
)
@click.option(
    "--checkin-missed-rule",
    type=click.Choice(["backup", "alarm"]),
    default=None,
    help="After a missed check-in: offer the nearest CIT officer as backup, or alarm only.",
)
@click.option(
    "--emergency-backup-count",
    type=int,
    default=None,
    help="CIT officers offered as backup in an emergency (1 to 10; default 2).",
)
@click.option(
    "--emergency-position-interval-s",
    type=int,
    default=None,
    help="Seconds between positions asked of a responder in an emergency (2 to 60; default 5).",
)
@click.option(
    "--position-report-interval-s",
    type=int,
    default=None,
    help="Seconds between a consenting phone's position reports (5 to 600; default 30).",
)
def agency_update(
    slug: str,
    officers_see_narrative: bool | None,
    officers_see_substance_use: bool | None,
    **settings: int | str | None,
) -> None:
    """Change an agency's settings; what is not given stays as it is."""
    uow = unit_of_work(load_settings())
    updated = run(
        lambda: uow.write_sync(
            agencies.update_agency,
            slug=slug,
            officers_see_narrative=officers_see_narrative,
            officers_see_substance_use=officers_see_substance_use,
            settings=settings,
        )
    )
    click.echo(
        f"agency {updated.slug}: offer timeout {updated.offer_timeout_s} s, officers see "
        f"narrative: {'yes' if updated.officers_see_narrative else 'no'}, "
        f"substance use: {'yes' if updated.officers_see_substance_use else 'no'}; "
        f"check-ins every {updated.checkin_interval_s} s (0: off), grace "
        f"{updated.checkin_grace_s} s, then {updated.checkin_missed_rule}; emergency: "
        f"{updated.emergency_backup_count} backup, position every "
        f"{updated.emergency_position_interval_s} s; phones report position every "
        f"{updated.position_report_interval_s} s"
    )


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--agency", "slug", required=True, help="The agency's slug.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--responder",
    "responder_id",
    type=click.UUID,
    default=None,
    help="For --role responder: the responder the token acts as.",
)
@click.option(
    "--resource",
    "resource_id",
    type=click.UUID,
    default=None,
    help="For --role provider: the resource whose capacity the token keeps.",
)
@click.option("--label", default="", help="A note to tell tokens apart.")
@click.option(
    "--expires-in-days",
    type=click.IntRange(min=1),
    default=None,
    help="Expire after this many days [default: CORESPOND_TOKEN_TTL_DAYS, 90].",
)
@click.option(
    "--never-expires", is_flag=True, help="No expiry (for a CAD system; revoke it when done)."
)
def token_create(
    slug: str,
    role: str,
    responder_id: uuid.UUID | None,
    resource_id: uuid.UUID | None,
    label: str,
    expires_in_days: int | None,
    never_expires: bool,
) -> None:
    """Issue a token; it is printed once, alone on the last line."""
    settings = load_settings()
    uow = unit_of_work(settings)
    if never_expires and expires_in_days is not None:
        raise click.UsageError("--never-expires and --expires-in-days contradict each other")
    if (role == Role.provider) != (resource_id is not None):
        raise click.UsageError("--resource is required with --role provider, and only then")
    lifetime = None if never_expires else timedelta(days=expires_in_days or settings.token_ttl_days)
    if resource_id is not None:
        issued = run(
            lambda: uow.write_sync(
                resources.issue_provider_token,
                slug=slug,
                resource_id=resource_id,
                label=label,
                expires_in=lifetime,
            )
        )
    else:
        issued = run(
            lambda: uow.write_sync(
                tokens.create_token,
                slug=slug,
                role=Role(role),
                responder_id=responder_id,
                label=label,
                expires_in=lifetime,
            )
        )
    click.echo(f"{role} token for agency {slug} (shown once; store it safely):")
    click.echo(issued)


@token.command("list")
@click.option("--agency", "slug", required=True, help="The agency's slug.")
def token_list(slug: str) -> None:
    """The agency's tokens (never the tokens themselves: only their hashes are kept)."""
    uow = unit_of_work(load_settings())
    rows = run(lambda: uow.read_sync(tokens.list_tokens, slug=slug))
    now = utcnow()
    click.echo(f"{'id':36}  {'role':10}  {'state':7}  {'expires':20}  label / responder")
    for row in rows:
        expires = iso_utc(row.expires_at)[:19] + "Z" if row.expires_at else "never"
        who = " ".join(filter(None, [row.label, str(row.responder_id or "")]))
        click.echo(f"{row.id}  {row.role.value:10}  {row.state(now):7}  {expires:20}  {who}")


@token.command("revoke")
@click.argument("token_id", type=click.UUID)
def token_revoke(token_id: uuid.UUID) -> None:
    """Revoke a token now: HTTP answers 401 and its open consoles close (4401) in seconds."""
    uow = unit_of_work(load_settings())
    run(lambda: uow.write_sync(tokens.revoke_token, token_id=token_id))
    click.echo(f"revoked token {token_id}")


@main.command("console")
@click.option(
    "--url",
    default=None,
    help="The socket, e.g. wss://corespond.example.org/v1/ws [default: this host's].",
)
@click.option(
    "--token", envvar="CORESPOND_TOKEN", required=True, help="Or CORESPOND_TOKEN in the env."
)
def console_command(url: str | None, token: str) -> None:
    """A terminal console: live events, and short commands to answer them."""
    from service.cli import terminal_console

    settings = load_settings()
    url = url or f"ws://{settings.host}:{settings.port}/v1/ws"
    raise SystemExit(terminal_console.run(url, token))


@main.command("demo")
def demo_command() -> None:
    """Seed a demo agency around Norristown, PA, and print tokens to try it with."""
    settings = load_settings()
    seeded = run(lambda: unit_of_work(settings).write_sync(demo.seed))
    click.echo(demo.instructions(seeded, settings))


main.add_command(audit)
main.add_command(rules)
main.add_command(roads)
