"""A trigram index on the upper-cased text of log lines: the log filter's words and phrases
(`UPPER(text) LIKE '%WORD%'`) find their lines without reading every line of the service (a
word that matches nothing read all 1,000,000 lines of the log benchmark: 500 ms; with the
index, milliseconds). Made on the partitioned table, so every partition has it, those to come
too; building it holds the table's writes for as long as it takes (about 20 s a million lines).

pg_trgm lives in a schema of its own, `extensions`: made from a workspace's migration without
a schema, it would land in that workspace's schema, invisible to the others; in `public`, the
clone of the template (pg-clone-schema prints the index with `public` on its search path, then
runs it with the new schema's alone) would not find its operator class."""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations

CREATE = """
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;
CREATE INDEX log_line_text_trgm ON deployments_logline
    USING gin (upper(text) extensions.gin_trgm_ops);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('deployments', '0008_live_logs'),
    ]

    operations = [
        # Django writes the operator class inside the expression's parentheses, which
        # PostgreSQL refuses: the SQL by hand, the index in the state as the model says it.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(CREATE, reverse_sql="DROP INDEX log_line_text_trgm"),
            ],
            state_operations=[migrations.AddIndex(
                model_name='logline',
                index=django.contrib.postgres.indexes.GinIndex(
                    django.contrib.postgres.indexes.OpClass(
                        django.db.models.functions.text.Upper('text'), name='gin_trgm_ops'),
                    name='log_line_text_trgm'),
            )],
        ),
    ]
