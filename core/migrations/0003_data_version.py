"""The sequence behind core.data_version, on PostgreSQL; other databases keep no version."""

from django.db import migrations


def create_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS core_data_version")


def drop_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS core_data_version")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_seats_taken_triggers")]

    operations = [migrations.RunPython(create_sequence, drop_sequence)]
