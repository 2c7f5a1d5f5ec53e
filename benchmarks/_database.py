"""What the benchmarks share: a temporary database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def temporary_database(name: str) -> Iterator[None]:
    """Point the default connection at a new, migrated database; drop it afterwards."""
    test_settings = connection.settings_dict.setdefault("TEST", {})
    saved_test_settings = dict(test_settings)
    old_name = connection.settings_dict["NAME"]
    if old_name == name:
        raise RuntimeError(f"The panel's own database is called {name}; not touching it.")
    test_settings["NAME"] = name
    # A connection pool opened before (another benchmark of this run) holds connections to the
    # panel's database, and would keep handing them out once NAME names the new one.
    connection.close()
    connection.close_pool()
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        yield
    finally:
        try:
            # create_test_db switches NAME once the database exists; before that there is
            # nothing to drop, and destroy_test_db would drop NAME -- the panel's database.
            if connection.settings_dict["NAME"] == name:
                connection.set_schema_to_public()
                connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        finally:
            test_settings.clear()
            test_settings.update(saved_test_settings)
