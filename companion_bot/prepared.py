"""Reads that every update makes, with their SQL built once per process.

Tortoise builds the SQL of each query anew (pypika), and for a short read that costs more CPU
than the round trip: about 0.6 ms to build the read of a registration with its event and
person, against 0.05 ms to run a statement. `Prepared` builds a query once, with stand-in
values, and then runs that SQL with the real ones (asyncpg also keeps it prepared on each
connection); tortoise still turns the rows into models, joined ones (`select_related`)
included, and the query runs on the connection of the caller's transaction as any other.

Only for a few reads on the hot path, whose parameters are integers or strings; everything
else stays plain tortoise. It relies on two details of tortoise (a query set's `query` and
its executor's `execute_select`), checked by tests/test_prepared.py on both databases.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)

_stand_ins = itertools.count(1)


class Prepared(Generic[M]):
    """`build(**parameters)` → a query set of `model`, run with its SQL built once per dialect.

    `parameters` name each parameter and its type (int or str):
    `Prepared(Person, lambda telegram_id: Person.filter(telegram_id=telegram_id).limit(1),
    telegram_id=int)`. Each must appear exactly once in the query's values.
    """

    def __init__(
        self, model: type[M], build: Callable[..., QuerySet[M]], **parameters: type
    ) -> None:
        if not parameters or any(kind not in (int, str) for kind in parameters.values()):
            raise TypeError("parameters are ints or strs, at least one")
        self.model = model
        self._build = build
        self._parameters = parameters
        # Per dialect: the SQL, its values (stand-ins in place of the parameters), where
        # each parameter goes, and how joined models are read from a row.
        self._compiled: dict[str, tuple[str, list[Any], dict[str, int], Any]] = {}

    def _compile(self, dialect: str) -> tuple[str, list[Any], dict[str, int], Any]:
        stand_ins = {
            name: (
                -(10**15) - next(_stand_ins) if kind is int else f"\0stand-in {next(_stand_ins)}"
            )
            for name, kind in self._parameters.items()
        }
        query = self._build(**stand_ins)
        query.sql()  # builds `query.query` for the connection chosen now (its dialect)
        sql, values = query.query.get_parameterized_sql()
        places = {}
        for name, stand_in in stand_ins.items():
            found = [index for index, value in enumerate(values) if value == stand_in]
            if len(found) != 1:
                raise ValueError(f"parameter {name!r} must appear once in the query")
            places[name] = found[0]
        compiled = (sql, list(values), places, query._select_related_idx)
        self._compiled[dialect] = compiled
        return compiled

    async def all(self, **values: Any) -> list[M]:
        model = self.model
        db = model._meta.db
        dialect = db.capabilities.dialect
        sql, template, places, select_related = self._compiled.get(dialect) or self._compile(
            dialect
        )
        arguments = list(template)
        for name, kind in self._parameters.items():
            value = values[name]
            if type(value) is not kind:
                raise TypeError(f"{name} must be {kind.__name__}, not {type(value).__name__}")
            arguments[places[name]] = value
        executor = db.executor_class(model=model, db=db, select_related_idx=select_related)
        return await executor.execute_select(sql, arguments)

    async def first(self, **values: Any) -> M | None:
        """The first row (build the query with `.limit(1)`), or None."""
        rows = await self.all(**values)
        return rows[0] if rows else None
