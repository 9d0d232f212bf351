"""Statements that every update makes, with their SQL built once per process.

Tortoise builds the SQL of each query anew (pypika), and for a short statement that costs
more CPU than the round trip: about 0.6 ms to build the read of a registration with its event
and person, 0.1 ms for a one-row UPDATE, against 0.05 ms to run a statement. `Prepared`
builds a query once, with stand-in values, and then runs that SQL with the real ones (asyncpg
also keeps it prepared on each connection). Reads still get models from tortoise, joined ones
(`select_related`) included; every statement runs on the connection of the caller's
transaction, as any other query.

Only for a few statements on the hot path (the sign-up's reads, marking an update handled or
a message sent); everything else stays plain tortoise. It relies on two details of tortoise
(a query's `query` once built, and the executor's `execute_select`), checked by
tests/test_prepared.py on both databases.

`Statement` is for the few that tortoise cannot say in one statement (an upsert; a queue's
claim, companion_bot/workers/queue.py): hand-written SQL with named parameters, run the same
way.
"""

from __future__ import annotations

import itertools
import re
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import AwaitableQuery

M = TypeVar("M", bound=Model)

_serial = itertools.count(1)
KINDS = (int, str, datetime)


def _stand_in(kind: type) -> Any:
    """A value of `kind` that no real parameter takes, to find its place in the SQL."""
    number = next(_serial)
    if kind is int:
        return -(10**15) - number
    if kind is str:
        return f"\0stand-in {number}"
    return datetime(1901, 1, 1, tzinfo=UTC) + timedelta(microseconds=number)


def _base_kind(kind: Any) -> type:
    """int for `int`, and for `int | None` (None then allowed at run time)."""
    members = (
        [k for k in kind.__args__ if k is not type(None)]
        if isinstance(kind, types.UnionType)
        else [kind]
    )
    if len(members) != 1 or members[0] not in KINDS:
        raise TypeError(
            f"a parameter is an int, a str or an aware datetime, or one or None: {kind}"
        )
    return members[0]


class Prepared(Generic[M]):
    """`build(**parameters)` → a query on `model` (a query set, or an `.update(…)`), run
    with its SQL built once per dialect.

    `parameters` name each parameter and its type: int, str or datetime (aware, UTC), or one
    of them or None (`int | None`; None only as a value to set, never to compare with):
    `Prepared(Person, lambda telegram_id: Person.filter(telegram_id=telegram_id).limit(1),
    telegram_id=int)`. Each must appear exactly once in the query's values; the rest of the
    query (statuses, limits) is fixed when it is built.
    """

    def __init__(
        self, model: type[M], build: Callable[..., AwaitableQuery], **parameters: Any
    ) -> None:
        if not parameters:
            raise TypeError("a prepared query takes at least one parameter")
        self.model = model
        self._build = build
        self._parameters = parameters
        self._kinds = {name: _base_kind(kind) for name, kind in parameters.items()}
        # Per dialect: the SQL, its values (stand-ins in place of the parameters), where
        # each parameter goes, and how joined models are read from a row.
        self._compiled: dict[str, tuple[str, list[Any], dict[str, int], Any]] = {}

    async def all(self, **values: Any) -> list[M]:
        """The models the query set selects."""
        db, sql, arguments, select_related = self._statement(values)
        executor = db.executor_class(model=self.model, db=db, select_related_idx=select_related)
        return await executor.execute_select(sql, arguments)

    async def first(self, **values: Any) -> M | None:
        """The first model (build the query with `.limit(1)`), or None."""
        rows = await self.all(**values)
        return rows[0] if rows else None

    async def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        """The rows of a `.values_list(…)` query as the database gives them, with no
        conversion to Python values: for int and str columns."""
        db, sql, arguments, _ = self._statement(values)
        _count, rows = await db.execute_query(sql, arguments)
        return [tuple(row) for row in rows]

    async def execute(self, **values: Any) -> int:
        """Run an UPDATE (or DELETE): how many rows it changed."""
        db, sql, arguments, _ = self._statement(values)
        changed, _rows = await db.execute_query(sql, arguments)
        return changed

    def _statement(self, values: dict[str, Any]) -> tuple[Any, str, list[Any], Any]:
        db = self.model._meta.db  # the caller's transaction, if any
        dialect = db.capabilities.dialect
        sql, template, places, select_related = self._compiled.get(dialect) or self._compile(
            dialect
        )
        arguments = list(template)
        for name, kind in self._parameters.items():
            value = values[name]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")
            if isinstance(value, datetime) and value.tzinfo is None:
                raise TypeError(f"{name} must be an aware datetime")
            arguments[places[name]] = value
        return db, sql, arguments, select_related

    def _compile(self, dialect: str) -> tuple[str, list[Any], dict[str, int], Any]:
        stand_ins = {name: _stand_in(kind) for name, kind in self._kinds.items()}
        query = self._build(**stand_ins)
        query.sql()  # builds `query.query` for the connection chosen now (its dialect)
        sql, values = query.query.get_parameterized_sql()
        places = {}
        for name, stand_in in stand_ins.items():
            found = [index for index, value in enumerate(values) if value == stand_in]
            if len(found) != 1:
                raise ValueError(f"parameter {name!r} must appear once in the query")
            places[name] = found[0]
        compiled = (sql, list(values), places, getattr(query, "_select_related_idx", None))
        self._compiled[dialect] = compiled
        return compiled


class Statement(Generic[M]):
    """Hand-written SQL on `model`'s table, with `:name` parameters, in each dialect's
    placeholders (`$1` or `?`), on the caller's connection (her transaction, if any).

    `sql` is the text, or a function of the dialect ("postgres", "sqlite") giving it. A
    statement that returns rows starts with SELECT or WITH (tortoise runs one starting with
    INSERT or UPDATE on PostgreSQL without reading rows).
    """

    def __init__(self, model: type[M], sql: str | Callable[[str], str]) -> None:
        self.model = model
        self._sql = sql
        self._compiled: dict[str, tuple[str, list[str]]] = {}

    async def models(self, **values: Any) -> list[M]:
        """The rows as models of `model` (the statement returns all its columns)."""
        db, sql, arguments = self._statement(values)
        return await db.executor_class(model=self.model, db=db).execute_select(sql, arguments)

    async def execute(self, **values: Any) -> int:
        """Run it: how many rows it changed."""
        db, sql, arguments = self._statement(values)
        changed, _rows = await db.execute_query(sql, arguments)
        return changed

    def _statement(self, values: dict[str, Any]) -> tuple[Any, str, list[Any]]:
        db = self.model._meta.db
        dialect = db.capabilities.dialect
        if dialect not in self._compiled:
            text = self._sql(dialect) if callable(self._sql) else self._sql
            self._compiled[dialect] = positional(text, dialect)
        sql, names = self._compiled[dialect]
        return db, sql, [values[name] for name in names]


def positional(sql: str, dialect: str) -> tuple[str, list[str]]:
    """`:name` parameters as the driver wants them: `$1` (each name once, PostgreSQL) or `?`
    (each use); returns the SQL and the names of its parameters in order."""
    names: list[str] = []

    def place(match: re.Match[str]) -> str:
        name = match.group(1)
        if dialect != "postgres":
            names.append(name)
            return "?"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", place, " ".join(sql.split())), names
