"""New workspace schemas as copies of the template schema (DESIGN.md §3).

django-tenants clones with pg-clone-schema and then runs `migrate_schemas --fake` on the copy.
This module does the same copy with two corrections:

- the template's `django_migrations` rows are copied with the data, so the faked migration
  run is redundant (it loads the whole migration graph: most of the time a clone took);
- pg-clone-schema recreates named unique constraints under PostgreSQL's default names, so a
  later migration that alters one by name would fail on every cloned workspace. The names are
  restored from the template.
- it leaves out the foreign keys of partitioned tables (the log lines'): they are added from
  the template's.

The clone function (4,500 lines of PL/pgSQL) is installed once per database, not per clone.
"""

from __future__ import annotations

from django.db import connection
from django_tenants.clone import CLONE_SCHEMA_FUNCTION
from django_tenants.utils import schema_exists

# Definitions name other tables of the schema with the schema's name: taken out, so that the
# same constraint reads the same in the template and in a copy.
CONSTRAINTS = """
    SELECT cls.relname, con.conname, replace(pg_get_constraintdef(con.oid), %s, '')
    FROM pg_constraint con
    JOIN pg_class cls ON cls.oid = con.conrelid
    JOIN pg_namespace ns ON ns.oid = cls.relnamespace
    WHERE ns.nspname = %s
"""


def _install_clone_function(cursor: object) -> None:
    cursor.execute(
        "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND p.proname = 'clone_schema'"
    )
    if cursor.fetchone() is None:
        user = connection.settings_dict.get("USER") or "postgres"
        cursor.execute(CLONE_SCHEMA_FUNCTION.format(db_user=user))


def _constraints(cursor: object, schema: str) -> dict[tuple[str, str], str]:
    """(table, definition) → constraint name, for the schema's constraints."""
    cursor.execute(CONSTRAINTS, [f"{schema}.", schema])
    return {(table, definition): name for table, name, definition in cursor.fetchall()}


def restore_constraint_names(template: str, schema: str) -> int:
    """Give `schema`'s constraints the names they have in `template`; return how many moved."""
    quote = connection.ops.quote_name
    renamed = 0
    with connection.cursor() as cursor:
        expected = _constraints(cursor, template)
        for (table, definition), name in _constraints(cursor, schema).items():
            wanted = expected.get((table, definition))
            if wanted and wanted != name:
                cursor.execute(
                    f"ALTER TABLE {quote(schema)}.{quote(table)}"
                    f" RENAME CONSTRAINT {quote(name)} TO {quote(wanted)}"
                )
                renamed += 1
    return renamed


def restore_foreign_keys(template: str, schema: str) -> int:
    """Add to `schema` the foreign keys of `template` it lacks; return how many."""
    quote = connection.ops.quote_name
    added = 0
    with connection.cursor() as cursor:
        present = set(_constraints(cursor, schema))
        for (table, definition), name in _constraints(cursor, template).items():
            if (table, definition) in present or not definition.startswith("FOREIGN KEY"):
                continue
            qualified = definition.replace(" REFERENCES ", f" REFERENCES {quote(schema)}.", 1)
            cursor.execute(f"ALTER TABLE {quote(schema)}.{quote(table)}"
                           f" ADD CONSTRAINT {quote(name)} {qualified}")
            added += 1
    return added


def clone_template(template: str, schema: str) -> None:
    """Create `schema` as a copy of `template`: tables, data (the migration records), names."""
    if schema_exists(schema, case_sensitive=False):
        raise ValueError(f"schema {schema} already exists")
    with connection.cursor() as cursor:
        _install_clone_function(cursor)
        cursor.execute("SELECT clone_schema(%s, %s, 'DATA')", [template, schema])
    restore_constraint_names(template, schema)
    restore_foreign_keys(template, schema)
