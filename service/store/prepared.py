"""Statements of the hot path, compiled once and run on the driver's cursor.

A Core statement executed through SQLAlchemy costs about 100 µs of Python (cache
key, compiled-cache lookup, execution context, result set-up) around a SQLite
statement of 10-40 µs: measured, an accept's seven statements and its commit took
1.2-1.4 ms through Core (1.4-2.1 through the session) and 0.45 ms on `sqlite3`
directly (bench/HISTORY.md).
A `Prepared` keeps what SQLAlchemy does well, once: the SQL comes from the same
models for each dialect, and the values pass through the column types' own bind
and result processors (UUIDs, UTC times, JSON), so a row written here reads the
same as one the ORM wrote. What it leaves out is the per-execution machinery,
and with it two things a statement here must not need: Python-side column
defaults (every value is given) and varying IN lists (an IN is of constants).
"""

import functools
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Executable, Insert, Table, insert, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import configure_mappers
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import SQLModel

Processor = Callable[[Any], Any]
M = TypeVar("M", bound=SQLModel)


@dataclass(slots=True)
class _Form:
    """A statement as one dialect's driver takes it."""

    sql: str
    # Each driver parameter: the caller's value under `name` through `process`, or a
    # constant of the statement (already processed) when `name` is None.
    slots: tuple[tuple[str | None, Processor | None, Any], ...]
    names: tuple[str, ...] | None  # the driver's parameter names (pyformat), or positional
    row: Any  # the result's row type (a namedtuple), for statements returning rows; or None
    columns: tuple[Any, ...]  # the result's columns, for their result processors
    # The columns' result processors, made from the first result's description (on
    # PostgreSQL a float's processor depends on the type the server sent).
    results: tuple[Processor | None, ...] | None = None


class Rows:
    """What a `Prepared` statement returned: its rows (read whole) and its row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any | None:
        return self._rows[0] if self._rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]

    def scalar_one_or_none(self) -> Any | None:
        if len(self._rows) > 1:
            raise LookupError(f"expected at most one row, got {len(self._rows)}")
        return self._rows[0][0] if self._rows else None


class Prepared:
    """A Core statement built once at import, compiled once per dialect (and, for an
    INSERT without `.values()`, per set of columns given), run with `run`."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._forms: dict[tuple[str, tuple[str, ...]], _Form] = {}
        self._lock = threading.Lock()

    def run(self, connection: Connection, params: Mapping[str, Any]) -> Rows:
        """Execute on `connection`'s driver connection, inside its transaction."""
        form = self._form(connection.dialect, params)
        return _execute(connection, form, _bind(form, params), many=False)

    def run_many(self, connection: Connection, params: Sequence[Mapping[str, Any]]) -> Rows:
        """Execute once for each parameter set, as one executemany (no rows returned)."""
        form = self._form(connection.dialect, params[0])
        return _execute(connection, form, [_bind(form, p) for p in params], many=True)

    def _form(self, dialect: Dialect, params: Mapping[str, Any]) -> _Form:
        keys = tuple(sorted(params)) if _lists_columns(self.statement) else ()
        key = (dialect.name, keys)
        form = self._forms.get(key)
        if form is None:
            with self._lock:
                form = self._forms.get(key) or _compile(self.statement, dialect, keys)
                self._forms[key] = form
        return form


def inserting(model: type[Any]) -> tuple[Prepared, Callable[[Any], dict[str, Any]]]:
    """A prepared INSERT of every column of `model`'s table, and the function that
    takes an object's values for it (given whole: no column defaults are applied)."""
    table: Table = model.__table__
    keys = [c.key for c in table.columns]
    return Prepared(insert(table)), lambda obj: {key: getattr(obj, key) for key in keys}


def transient(model: type[M], values: Mapping[str, Any]) -> M:
    """A transient `model` object (a table model) holding `values`, each field not
    given at its default, made the way the ORM makes the objects it loads: attributes
    set directly. SQLModel's constructor assigns each field through the ORM's
    instrumentation, ~100 µs an object, more than the INSERT that writes it; an
    object here is written by a prepared statement, or was read by one, never
    through the session (nothing is validated, as with the constructor of a table
    model). Unlike the constructor's, its `model_fields_set` is empty and the ORM
    sees no change to flush: neither matters to an object the session never holds."""
    optional, required, known = _fields(model)
    if missing := required - values.keys():
        raise TypeError(f"{model.__name__} needs {', '.join(sorted(missing))}")
    if unknown := values.keys() - known:
        raise TypeError(f"{model.__name__} has no {', '.join(sorted(unknown))}")
    mapper = inspect(model)
    if not mapper.configured:  # (a constructor or a query would have configured them)
        configure_mappers()
    obj = mapper.class_manager.new_instance()
    attributes = obj.__dict__
    for name, default, make in optional:
        if name not in values:  # a fresh default each time, as the constructor makes it
            attributes[name] = default if make is None else make()
    attributes.update(values)
    return cast(M, obj)


_Optional = tuple[str, Any, Callable[[], Any] | None]  # a field: its default, or its maker


@functools.cache
def _fields(model: type[SQLModel]) -> tuple[tuple[_Optional, ...], frozenset[str], frozenset[str]]:
    """A model's fields: those with a default, the required, every name. A default
    that could be changed in place (a list) is made afresh for each object, as
    pydantic does; a constant one is shared."""
    optional: list[_Optional] = []
    for name, info in model.model_fields.items():
        if info.is_required():
            continue
        if info.default_factory is None and isinstance(info.default, _CONSTANT):
            optional.append((name, info.default, None))
        elif info.default_factory is not None and not info.default_factory_takes_validated_data:
            optional.append((name, None, cast(Callable[[], Any], info.default_factory)))
        else:
            optional.append(
                (name, None, functools.partial(info.get_default, call_default_factory=True))
            )
    fields = model.model_fields
    return (
        tuple(optional),
        frozenset(name for name, info in fields.items() if info.is_required()),
        frozenset(fields),
    )


_CONSTANT = (type(None), bool, int, float, str, bytes, tuple, frozenset, Enum)


def _execute(connection: Connection, form: _Form, driver_params: Any, *, many: bool) -> Rows:
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.cursor()
    try:
        if many:
            cursor.executemany(form.sql, driver_params)
            return Rows([], cursor.rowcount)
        cursor.execute(form.sql, driver_params)
        return Rows(
            _read(form, cursor, connection.dialect) if form.row is not None else [], cursor.rowcount
        )
    except dbapi.Error as exc:
        raise DBAPIError.instance(
            form.sql, driver_params, exc, dbapi.Error, dialect=connection.dialect
        ) from exc
    finally:
        cursor.close()


def _lists_columns(statement: Executable) -> bool:
    """A prepared INSERT is written without `.values()`: its columns are the
    parameters given."""
    return isinstance(statement, Insert)


def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Form:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    defaulted = [*compiled.insert_prefetch, *compiled.update_prefetch]
    if defaulted:
        raise ValueError(
            "a prepared statement runs without Python-side column defaults: give "
            + ", ".join(c.key for c in defaulted)
        )
    # `binds` also files each parameter under a "%(<id> <name>)s" key: skip those.
    binds = {name: b for name, b in compiled.binds.items() if not name.startswith("%(")}
    given = {name for name, b in binds.items() if b.required}
    for name in given:
        if binds[name].expanding:
            raise ValueError(f"{name}: an IN list must be constants in a prepared statement")
    # Required binds get placeholders; constants (and IN lists of constants) their values.
    state = compiled.construct_expanded_state(dict.fromkeys(given))
    base = {
        expanded: name for name, names in state.parameter_expansion.items() for expanded in names
    }

    def processor(name: str) -> Processor | None:
        bind = binds[base.get(name, name)]
        return bind.type.dialect_impl(dialect).bind_processor(dialect)

    order = state.positiontup if state.positiontup is not None else list(state.parameters)
    slots: list[tuple[str | None, Processor | None, Any]] = []
    for name in order:
        process = processor(name)
        if name in given:
            slots.append((name, process, None))
        else:
            value = state.parameters[name]
            slots.append((None, None, process(value) if process else value))
    columns = list(getattr(statement, "exported_columns", ()))
    row = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
    return _Form(
        sql=state.statement,
        slots=tuple(slots),
        names=None if state.positiontup is not None else tuple(order),
        row=row,
        columns=tuple(columns),
    )


def _bind(form: _Form, params: Mapping[str, Any]) -> Any:
    values = [
        (process(params[name]) if process else params[name]) if name is not None else constant
        for name, process, constant in form.slots
    ]
    if form.names is None:
        return values
    return dict(zip(form.names, values, strict=True))


def _read(form: _Form, cursor: Any, dialect: Dialect) -> list[Any]:
    if form.results is None:
        form.results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for c, described in zip(form.columns, cursor.description, strict=True)
        )
    row, results = form.row, form.results
    if not any(results):
        return [row._make(r) for r in cursor.fetchall()]
    return [
        row._make(p(v) if p else v for p, v in zip(results, r, strict=True))
        for r in cursor.fetchall()
    ]
