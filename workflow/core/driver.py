"""The statements every request and every step sends, compiled once and run on the driver's cursor.

SQLAlchemy runs a cached statement through an execution context, its events, a result and its rows'
metadata: about 60 µs to find an issue by its code on SQLite here, of which the driver's own work is 9 µs.
A step's POST sends five such statements on SQLite (three on PostgreSQL) and a GET one. A ``Direct`` statement is
compiled once per dialect, its parameters and rows processed by the type processors SQLAlchemy would use,
and sent on the DB-API cursor of the unit's own connection (26 µs for the same read), inside the
connection's transaction (begun as SQLAlchemy begins it, so SQLite's writer takes its lock at the same
statement), with the engine's ``before_cursor_execute`` and ``after_cursor_execute`` events fired around it:
they count statements, refuse a read-only unit's writes, and let a test stop a step at a given write. A
driver's error goes through SQLAlchemy's own handling of one (``sqlalchemy.exc.DBAPIError`` and its kinds; a
dropped connection invalidated with the pool's older ones), so ``UnitOfWork.read_first`` still tries again
on a new connection.

Only statements that need nothing of an execution context may be ``Direct``: no column default computed in
Python, no expanding ``IN`` list. Such a statement is refused the first time it is sent (ValueError).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from workflow.core.db import PLANNED

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Context:
    """What the engine's cursor events are given as the execution context of a ``Direct`` statement."""

    compiled: SQLCompiler
    execution_options: Mapping[str, Any]
    is_crud: bool


@dataclass(slots=True)
class _Plan:
    """A statement as one dialect runs it."""

    compiled: SQLCompiler
    sql: str
    order: tuple[str, ...] | None  # the parameters' names in order, for a positional paramstyle
    binds: Mapping[str, Processor]  # name -> the bind processor of its type, where it has one
    is_crud: bool
    row: Any = None  # the row class, made at the first statement that returned rows
    results: tuple[Processor | None, ...] = ()


@dataclass(frozen=True, slots=True)
class Written:
    """What a write did: the rows it matched, and on SQLite the new row's id."""

    rowcount: int
    lastrowid: int | None


def _order(names: Sequence[str] | None, positional: bool) -> tuple[str, ...] | None:
    """The parameters' names in the order a positional paramstyle sends them; None for a named one."""
    return tuple(names or ()) if positional else None


def _row_class(names: Sequence[str]) -> Any:
    base = namedtuple("Row", names)  # type: ignore[misc]

    class Row(base):
        """A row read by a ``Direct`` statement: its columns by name (``row.code``) or as ``row._mapping``."""

        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(self._fields, self, strict=True))

    return Row


class Direct:
    """A statement built once by its module, sent through the driver (see the module's docstring).

    ``column_keys`` names the columns an INSERT or UPDATE sets when its values come with the parameters
    (as ``Connection.execute(table.insert(), values)`` would compile it).
    """

    __slots__ = ("_plans", "column_keys", "statement")

    def __init__(self, statement: sa.Executable, *, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = sorted(column_keys) if column_keys is not None else None
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = self._compile(dialect)
        return plan

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)  # type: ignore[attr-defined]
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError("a Direct statement may not need column defaults computed around it")
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a Direct statement may not expand a list of values (IN)")
        sql, order = compiled.string, _order(compiled.positiontup, compiled.positional)
        fixed = {compiled.bind_names[bind] for bind in compiled.literal_execute_params}
        if fixed:
            # Values the statement renders into its SQL (aggregate_strings' separator): rendered once, here. The
            # other parameters' values do not change the SQL, so any stand in for them.
            standing_in = {bind.key: None for bind in compiled.binds.values() if bind.required}
            expanded = compiled.construct_expanded_state(standing_in)
            sql, order = expanded.statement, _order(expanded.positiontup, compiled.positional)
        binds: dict[str, Processor] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None and name not in fixed:
                binds[name] = process
        is_crud = bool(compiled.isinsert or compiled.isupdate or compiled.isdelete)
        return _Plan(compiled, sql, order, binds, is_crud)

    def _send(self, conn: sa.Connection, params: Mapping[str, Any]) -> tuple[_Plan, Any]:
        """Run the statement on the connection's cursor, in its transaction; the plan and the open cursor."""
        dialect = conn.dialect
        plan = self._plan(dialect)
        options = conn.get_execution_options()
        if not conn.in_transaction():
            conn.begin()  # as SQLAlchemy's autobegin: the engine's "begin" event (SQLite's writer lock, ...)
        values = plan.compiled.construct_params(params)
        for name, process in plan.binds.items():
            values[name] = process(values[name])
        parameters: Any = tuple(values[name] for name in plan.order) if plan.order is not None else values
        context = _Context(plan.compiled, options, plan.is_crud)
        fairy = conn.connection
        cursor: Any = fairy.cursor()
        try:
            for listen in conn.dispatch.before_cursor_execute:
                listen(conn, cursor, plan.sql, parameters, context, False)
        except BaseException:
            cursor.close()  # a listener's refusal comes as it is, as SQLAlchemy's own execution gives it
            raise
        try:
            if dialect.name == "postgresql" and options.get(PLANNED):
                cursor.execute(plan.sql, parameters, prepare=False)
            else:
                cursor.execute(plan.sql, parameters)
            for listen in conn.dispatch.after_cursor_execute:
                listen(conn, cursor, plan.sql, parameters, context, False)
        except Exception as exc:
            if isinstance(exc, dialect.loaded_dbapi.Error):
                # SQLAlchemy's own handling: the error wrapped in its kind, the cursor closed, and on a dropped
                # connection this one and the pool's older ones invalidated.
                conn._handle_dbapi_exception(exc, plan.sql, parameters, cursor, None)
            cursor.close()
            raise
        except BaseException as exc:
            conn._handle_dbapi_exception(exc, plan.sql, parameters, cursor, None)  # an interrupt: invalidated
        return plan, cursor

    def rows(self, conn: sa.Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row the statement returns, each column processed as SQLAlchemy would."""
        plan, cursor = self._send(conn, params)
        try:
            return self._read(plan, cursor)
        finally:
            cursor.close()

    def first(self, conn: sa.Connection, params: Mapping[str, Any]) -> Any:
        """The statement's first row, or None."""
        found = self.rows(conn, params)
        return found[0] if found else None

    def write(self, conn: sa.Connection, params: Mapping[str, Any]) -> Written:
        """Run a write: how many rows it matched, and on SQLite the new row's id."""
        _plan, cursor = self._send(conn, params)
        try:
            return Written(cursor.rowcount, cursor.lastrowid if conn.dialect.name == "sqlite" else None)
        finally:
            cursor.close()

    def _read(self, plan: _Plan, cursor: Any) -> list[Any]:
        if plan.row is None:
            self._describe(plan, cursor)
        raw = cursor.fetchall()
        make, processors = plan.row._make, plan.results
        if not any(processors):
            return [make(values) for values in raw]
        return [
            make(
                [
                    value if process is None else process(value)
                    for value, process in zip(values, processors, strict=True)
                ]
            )
            for values in raw
        ]

    def _describe(self, plan: _Plan, cursor: Any) -> None:
        """The row class and each column's result processor, from the statement's columns (the cursor's names
        and no processing for a text statement, as SQLAlchemy reads one)."""
        description = cursor.description
        dialect = plan.compiled.dialect
        columns = list(self.statement.selected_columns) if isinstance(self.statement, sa.SelectBase) else []
        if columns and len(columns) == len(description):
            names = [str(column.key) for column in columns]
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                for column, described in zip(columns, description, strict=True)
            )
        else:
            names = [described[0] for described in description]
            results = tuple(None for _ in description)
        plan.results = results
        plan.row = _row_class(names)
