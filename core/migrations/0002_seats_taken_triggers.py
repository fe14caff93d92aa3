"""Database triggers that keep Event.seats_taken equal to the number of its attendee rows
(core/sql/counters.py, first version: every row a seat)."""

from django.db import migrations

from core.sql import counters
from core.sql.operations import RunForVendor


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        RunForVendor(
            forward={
                "postgresql": counters.SEATS_ONLY.POSTGRESQL,
                "sqlite": counters.SEATS_ONLY.SQLITE,
            },
            backward={"postgresql": counters.POSTGRESQL_DROP, "sqlite": counters.SQLITE_DROP},
            required=True,
        ),
        migrations.RunSQL(counters.SEATS_ONLY.RECOUNT, migrations.RunSQL.noop),
    ]
