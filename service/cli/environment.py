"""What every `corespond` command starts from: the settings (a bad one named, not a
traceback), a unit of work on the migrated database, and a domain error as a clean exit."""

from collections.abc import Callable
from typing import TypeVar

import click
from pydantic import ValidationError

from service.errors import CoRespondError
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.unit_of_work import UnitOfWork

T = TypeVar("T")


def unit_of_work(settings: Settings) -> UnitOfWork:
    """A unit of work for one command, on the database migrated first; it publishes
    nothing (a running server's hub finds the command's events in the log)."""
    engine = make_engine(settings)
    upgrade(engine)
    return UnitOfWork(engine, bus=None, serialize_writes=False)


def load_settings() -> Settings:
    """The settings from the environment, or a usage error naming each bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"CORESPOND_{'_'.join(str(p) for p in error['loc']).upper()}: "
            f"{str(error['msg']).removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
        raise click.UsageError("bad settings:\n  " + "\n  ".join(lines)) from None


def run(action: Callable[[], T]) -> T:
    """`action()`, with a domain error said as the command's error (exit 1), not a trace."""
    try:
        return action()
    except CoRespondError as exc:
        raise click.ClickException(exc.detail) from None
