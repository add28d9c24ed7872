"""Model values and instances from plain statements, converted as the ORM converts them.

Pages read often are read with one plain statement where building the query through the ORM
took longer than running it. What comes back is raw: a date is text on SQLite, jsonb is text
from a plain cursor. The converters here are the ORM's own (the backend's and the field's),
so a plain read gives the values a queryset would."""

import functools
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connection, connections


@functools.cache
def _converters(field, vendor: str) -> list[tuple]:
    column = field.get_col(field.model._meta.db_table)
    convert = [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]
    return [(converter, column) for converter in convert]


def _unchanged(value):
    return value


def converter(field) -> Callable[[object], object]:
    """A function giving a value of ``field`` read by a plain statement as the ORM would
    load it. Made once for the rows of one read: the converters and the connection are looked
    up once, not once per value."""
    db = connections[DEFAULT_DB_ALIAS]
    steps = _converters(field, db.vendor)
    if not steps:
        return _unchanged

    def convert(value):
        for step, column in steps:
            value = step(value, column, db)
        return value

    return convert


def select_list(*models) -> str:
    """Every concrete column of each model, qualified with its table, in the order
    ``instances_from`` reads them back."""
    quote = connection.ops.quote_name
    return ", ".join(
        f"{quote(model._meta.db_table)}.{quote(field.column)}"
        for model in models
        for field in model._meta.concrete_fields
    )


@functools.cache
def _loading(model, vendor: str) -> tuple[int, list[str], list[list[tuple]]]:
    fields = model._meta.concrete_fields
    return fields.index(model._meta.pk), [f.attname for f in fields], [_converters(f, vendor) for f in fields]


def instances_from(row, *models) -> list:
    """The instances of ``models`` in a row read with ``select_list(*models)``, as the ORM
    would load them; None for a model whose primary key is NULL (an outer join found no row)."""
    db = connections[DEFAULT_DB_ALIAS]
    instances, start = [], 0
    for model in models:
        pk_index, attnames, converters = _loading(model, db.vendor)
        values = list(row[start : start + len(attnames)])
        start += len(attnames)
        if values[pk_index] is None:
            instances.append(None)
            continue
        for i, field_converters in enumerate(converters):
            for convert, column in field_converters:
                values[i] = convert(values[i], column, db)
        instances.append(model.from_db(db.alias, attnames, values))
    return instances
