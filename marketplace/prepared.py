"""Querysets compiled to SQL once per process, for the few reads on the claim and submit paths.

Building and compiling a queryset costs far more than running it: the eligibility rule takes about 7 ms of Python
to build and compile and 0.4 ms to run (measured in bench/claims's profile). A `PreparedQuery` keeps the ORM
definition as the one source of truth, compiles it the first time it runs on a database, and afterwards only fills
in its `Param`s: the SQL text is the same on every call, so PostgreSQL reuses its plan (prepared statements).

    ELIGIBLE = PreparedQuery(lambda: eligible_jobs_for(worker_id=Param("worker", IntegerField()), ...))
    ELIGIBLE.rows(worker=7, ...)

A `Param` may stand wherever the ORM takes an expression (a filter's value, an annotation). Values are converted
by the `Param`'s field, and results by the queryset's own converters (JSON fields are decoded), as Django would.
`PreparedUpdate` does the same for `queryset.update(...)`, and `insert` is `bulk_create` for a few rows with its
statement text cached.
"""

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Expression, Field, Model, QuerySet
from django.db.models.sql import UpdateQuery
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=Model)


class Param(Expression):
    """A named parameter of a prepared query: compiles to a placeholder whose value each call supplies."""

    def __init__(self, name: str, output_field: Field) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [_Slot(self.name, self.output_field)]

    def get_group_by_cols(self) -> list[Any]:
        return []


@dataclass(frozen=True)
class _Slot:
    name: str
    field: Field

    def value(self, values: dict[str, Any], connection: Any) -> Any:
        try:
            value = values[self.name]
        except KeyError:
            raise TypeError(f"Missing value for the prepared query's parameter {self.name!r}.") from None
        return self.field.get_db_prep_value(value, connection, prepared=False)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    compiler: SQLCompiler
    converters: dict[int, Any]


class _Prepared:
    """Compiles once per database alias (and vendor: tests may switch) and binds `Param` values per call."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, str], Any] = {}

    def _compiled_for(self, using: str) -> Any:
        key = (using, connections[using].vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using)
        return compiled

    def _compile(self, using: str) -> Any:
        raise NotImplementedError

    @staticmethod
    def _bind(params: tuple[Any, ...], values: dict[str, Any], connection: Any) -> list[Any]:
        return [p.value(values, connection) if isinstance(p, _Slot) else p for p in params]


class PreparedQuery(_Prepared, Generic[M]):
    """A queryset built by `build` (with `Param`s where the values go), compiled on first use per database."""

    def __init__(self, build: Callable[[], QuerySet[M, Any]]) -> None:
        super().__init__()
        self._build = build

    def _compile(self, using: str) -> _Compiled:
        compiler = self._build().query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        return _Compiled(sql, tuple(params), compiler, converters)

    def sql(self, using: str = "default") -> str:
        return self._compiled_for(using).sql

    def rows(self, *, using: str = "default", **values: Any) -> list[tuple[Any, ...]]:
        """Run the query with these parameter values; its rows, converted as the queryset would convert them."""
        sql, params = self.statement(using=using, **values)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return self.converted(cursor.fetchall(), using=using)

    def statement(self, *, using: str = "default", **values: Any) -> tuple[str, list[Any]]:
        """The SQL and parameters `rows` sends, for a caller that sends it inside a larger statement; the query's
        columns of the rows that come back then go through `converted`."""
        compiled, connection = self._compiled_for(using), connections[using]
        return compiled.sql, self._bind(compiled.params, values, connection)

    def converted(self, rows: Iterable[Any], *, using: str = "default") -> list[tuple[Any, ...]]:
        """Rows of this query's columns as fetched, converted as the queryset would convert them."""
        compiled = self._compiled_for(using)
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return [tuple(row) for row in rows]

    def instances(
        self,
        model: type[M],
        *,
        related: tuple[str, ...] = (),
        extra: tuple[str, ...] = (),
        using: str = "default",
        **values: Any,
    ) -> list[M]:
        """Run a query built as `values_list(*attnames(model, related), *extra)`; model instances, as loaded from
        the database, with each `related` foreign key's object loaded too (as `select_related` would) and each
        `extra` column (an annotation) set as an attribute of the same name."""
        return loaded(model, self.rows(using=using, **values), related=related, extra=extra, using=using)


def loaded(
    model: type[M],
    rows: Iterable[tuple[Any, ...]],
    *,
    related: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    using: str = "default",
) -> list[M]:
    """Model instances from converted rows of the columns `attnames(model, related)`, then `extra` (see
    `PreparedQuery.instances`)."""
    parts = [(model, None), *((model._meta.get_field(name).related_model, name) for name in related)]
    found = []
    for row in rows:
        start, obj = 0, None
        for part, name in parts:
            names = [field.attname for field in part._meta.concrete_fields]
            instance = part.from_db(using, names, row[start : start + len(names)])
            start += len(names)
            if name is None:
                obj = instance
            else:
                setattr(obj, name, instance)
        for name, value in zip(extra, row[start:], strict=True):
            setattr(obj, name, value)
        found.append(obj)
    return found


def attnames(model: type[Model], related: tuple[str, ...] = ()) -> list[str]:
    """The model's concrete column attributes, then those of each `related` foreign key's model (as `fk__column`):
    the columns `PreparedQuery.instances` expects, in its order."""
    names = [field.attname for field in model._meta.concrete_fields]
    for name in related:
        other = model._meta.get_field(name).related_model
        names += [f"{name}__{field.attname}" for field in other._meta.concrete_fields]
    return names


class PreparedUpdate(_Prepared):
    """`queryset.update(**values)` compiled once per database; `values` may hold `Param`s and expressions.

    `run(**params)` returns the number of rows changed.
    """

    def __init__(self, build: Callable[[], tuple[QuerySet[Any], dict[str, Any]]]) -> None:
        super().__init__()
        self._build = build

    def _compile(self, using: str) -> tuple[str, tuple[Any, ...]]:
        queryset, values = self._build()
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(values)
        compiler = query.get_compiler(using=using)
        compiler.pre_sql_setup()
        sql, params = compiler.as_sql()
        return sql, tuple(params)

    def run(self, *, using: str = "default", **values: Any) -> int:
        sql, params = self.statement(using=using, **values)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def statement(self, *, using: str = "default", **values: Any) -> tuple[str, list[Any]]:
        """The SQL and parameters `run` sends, for a caller that sends it inside a larger statement."""
        (sql, params), connection = self._compiled_for(using), connections[using]
        return sql, self._bind(params, values, connection)


def insert(objs: list[M], *, using: str = "default") -> list[M]:
    """`bulk_create(objs)` for the few rows a claim or submit writes: one `INSERT ... RETURNING` of every concrete
    field, values prepared by the fields as Django prepares them (`pre_save`, then `get_db_prep_save`), with the
    statement text cached per model and row count. Sets each object's primary key. No signals, as bulk_create."""
    if not objs:
        return objs
    with connections[using].cursor() as cursor:
        cursor.execute(*insert_statement(objs, using=using))
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, using
    return objs


def insert_statement(objs: Sequence[Model], *, using: str = "default") -> tuple[str, list[Any]]:
    """The SQL and parameters `insert` sends (non-empty `objs`), for a caller that sends it inside a larger statement:
    the objects' primary keys are then not set.

    Several rows on PostgreSQL go as one array per column (`INSERT ... SELECT * FROM UNNEST(...)`), as Django's
    `bulk_create` sends them there: the statement's text, and so the plan PostgreSQL prepares for it, is the same
    for any number of rows, and psycopg converts it once instead of on every call."""
    model, connection = type(objs[0]), connections[using]
    fields = _inserted_fields(model)
    rows = [[field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields] for obj in objs]
    unnest = _unnest_sql(model, using, connection.vendor) if len(rows) > 1 else None
    if unnest:
        return unnest, [list(column) for column in zip(*rows, strict=True)]
    return _insert_sql(model, len(rows), using, connection.vendor), [value for row in rows for value in row]


@functools.cache
def _inserted_fields(model: type[Model]) -> list[Field]:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@functools.lru_cache(maxsize=256)
def _insert_sql(model: type[Model], rows: int, using: str, vendor: str) -> str:
    meta, quote = model._meta, connections[using].ops.quote_name
    columns = [quote(field.column) for field in _inserted_fields(model)]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) VALUES {', '.join([row] * rows)} "
        f"RETURNING {quote(meta.pk.column)}"
    )


@functools.lru_cache(maxsize=64)
def _unnest_sql(model: type[Model], using: str, vendor: str) -> str | None:
    """The UNNEST form of the model's INSERT, or None where Django's PostgreSQL compiler would not use it either."""
    connection, meta, fields = connections[using], model._meta, _inserted_fields(model)
    if vendor != "postgresql" or any(
        hasattr(field, "get_placeholder")
        or (field.target_field if field.is_relation else field).get_internal_type() not in connection.data_types
        for field in fields
    ):
        return None
    quote = connection.ops.quote_name
    arrays = ", ".join(f"(%s)::{field.db_type(connection).split('(')[0]}[]" for field in fields)
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"SELECT * FROM UNNEST({arrays}) RETURNING {quote(meta.pk.column)}"
    )
