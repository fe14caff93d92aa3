"""Registrations get a status (a seat, or a place on the waiting list) and a token's hash; events
get a status (scheduled or cancelled) and a second trigger-kept counter, `waitlist_taken`.

The seat-counting triggers of migration 0002 are rewritten: `seats_taken` counts registered rows
only, `waitlist_taken` waitlisted ones, and both move when a row's status changes (a promotion
takes a seat in the statement that changes the status; the counter's check constraint refuses
one that would overbook). On PostgreSQL the functions are replaced in place; SQLite rebuilds
both tables to add the columns, keeping its row triggers through it (event_management_system/
sqlite3), and then replaces them.

The event catalog's trigger (migration 0004) now also fires when an event's status changes: a
cancelled event leaves the upcoming list, so cached list pages must not outlive it.
"""

from django.db import migrations, models

from core.sql import counters, versions
from core.sql.operations import RunForVendor


class Migration(migrations.Migration):
    dependencies = [("core", "0007_idempotency_key")]

    operations = [
        migrations.AddField(
            model_name="attendee",
            name="status",
            field=models.CharField(
                choices=[("registered", "Registered"), ("waitlisted", "Waitlisted")],
                db_default="registered",
                default="registered",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="attendee",
            name="token_hash",
            field=models.CharField(
                blank=True, default=None, editable=False, max_length=64, null=True, unique=True
            ),
        ),
        migrations.AddField(
            model_name="event",
            name="status",
            field=models.CharField(
                choices=[("scheduled", "Scheduled"), ("cancelled", "Cancelled")],
                db_default="scheduled",
                default="scheduled",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="event",
            name="waitlist_taken",
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AddIndex(
            model_name="attendee",
            index=models.Index(
                condition=models.Q(("status", "waitlisted")),
                fields=["event", "id"],
                name="attendee_waiting_event_id",
            ),
        ),
        migrations.AddConstraint(
            model_name="attendee",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["registered", "waitlisted"])),
                name="attendee_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["scheduled", "cancelled"])),
                name="event_status_known",
            ),
        ),
        RunForVendor(
            forward={
                "postgresql": [counters.POSTGRESQL, versions.CATALOG_TRIGGER],
                "sqlite": [*counters.SQLITE_DROP, *counters.SQLITE],
            },
            backward={
                "postgresql": [
                    counters.POSTGRESQL_DROP,
                    counters.SEATS_ONLY.POSTGRESQL,
                    counters.SEATS_ONLY.POSTGRESQL_TRUNCATED,
                    versions.CATALOG_TRIGGER_BEFORE_STATUS,
                ],
                "sqlite": [*counters.SQLITE_DROP, *counters.SEATS_ONLY.SQLITE],
            },
            required=True,
        ),
        migrations.RunSQL(counters.RECOUNT, counters.SEATS_ONLY.RECOUNT),
    ]
