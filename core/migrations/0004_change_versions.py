"""Change versions kept by PostgreSQL itself, which a reader compares to reuse what it computed
(core/sql/versions.py). Other databases keep no versions."""

from django.db import migrations

from core.sql import versions
from core.sql.operations import RunForVendor


class Migration(migrations.Migration):
    dependencies = [("core", "0003_data_version")]

    operations = [
        RunForVendor(
            forward={"postgresql": versions.POSTGRESQL},
            backward={"postgresql": versions.POSTGRESQL_DROP},
        )
    ]
