"""The text a search looks through, and on PostgreSQL a trigram index that finds words in it.

With the index, `search_text LIKE '%WORD%'` for a word of three or more characters reads the
matching rows instead of the whole table.

SQLite adds a stored generated column by rebuilding the table; its backend keeps the attendee
triggers through it (event_management_system/sqlite3).
"""

import django.db.models.functions.text
from django.db import migrations, models


TRIGRAM_INDEX = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX event_search_text_trigram ON core_event USING gin (search_text gin_trgm_ops);
"""


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGRAM_INDEX)


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS event_search_text_trigram")


class Migration(migrations.Migration):
    dependencies = [("core", "0004_change_versions")]

    operations = [
        migrations.AddField(
            model_name="event",
            name="search_text",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Upper(
                    django.db.models.functions.text.Concat(
                        "name", models.Value(" "), "location"
                    )
                ),
                output_field=models.TextField(),
            ),
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
