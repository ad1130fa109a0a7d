"""Engines: SQLite in WAL mode with serialised writers, or any SQLAlchemy URL."""

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from service.settings import Settings


def take_turns(connection: Connection, key: int) -> None:
    """On PostgreSQL, wait for the transaction-scoped advisory lock `key`: whoever
    holds it, in any process, goes first. (SQLite's one writer needs none.)"""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


LOCK_WAIT_S = 30.0  # how long a SQLite writer waits for another's lock


def make_engine(settings: Settings, *, lock_wait_s: float = LOCK_WAIT_S) -> Engine:
    """The engine for `settings.database_url`.

    On SQLite every write transaction starts with BEGIN IMMEDIATE (ask for it with
    `execution_options(begin="IMMEDIATE")`): a deferred transaction that later
    writes fails at once with SQLITE_BUSY when another writer got there first,
    instead of waiting its turn. A writer waits up to `lock_wait_s` for another
    connection's write to end (0: it fails at once with SQLITE_BUSY).
    """
    if not settings.is_sqlite:
        return create_engine(settings.database_url, pool_pre_ping=True, pool_size=10)
    engine = create_engine(
        settings.database_url,
        connect_args={"check_same_thread": False, "timeout": lock_wait_s},
        pool_size=8,
        max_overflow=8,
    )
    synchronous = settings.sqlite_synchronous

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, say when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_wait_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_locked_elsewhere(exc: BaseException) -> bool:
    """SQLite said SQLITE_BUSY: another connection (another process) holds the write
    lock, and this one was told not to wait."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlite_errorcode", None)
    return (
        isinstance(orig, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF == sqlite3.SQLITE_BUSY
    )
