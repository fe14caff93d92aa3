"""The outbox of emails (OutgoingMessage); events get the SEQUENCE of their calendar invite, and
registrations the nonce their token is derived from.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_seats_and_waiting_list"),
    ]

    operations = [
        migrations.AddField(
            model_name="attendee",
            name="token_nonce",
            field=models.CharField(
                blank=True, db_default="", default="", editable=False, max_length=32
            ),
        ),
        migrations.AddField(
            model_name="event",
            name="sequence",
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.CreateModel(
            name="OutgoingMessage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("registered", "seat confirmed"),
                            ("waitlisted", "on the waiting list"),
                            ("promoted", "promoted to a seat"),
                            ("cancelled", "registration cancelled"),
                            ("removed", "removed by the organiser"),
                            ("event_changed", "event changed"),
                            ("event_cancelled", "event cancelled"),
                        ],
                        max_length=20,
                    ),
                ),
                ("attendee_id", models.BigIntegerField(blank=True, null=True)),
                ("name", models.CharField(max_length=200)),
                ("email", models.EmailField(max_length=254)),
                ("seated", models.BooleanField(default=False)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("sent", "Sent"),
                            ("failed", "Failed"),
                            ("skipped", "Skipped"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("last_error", models.TextField(blank=True, default="")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="core.event",
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [
                    models.Index(fields=["status", "id"], name="outgoing_message_status_id")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["queued", "sent", "failed", "skipped"])),
                        name="outgoing_message_status_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "kind__in",
                                [
                                    "registered",
                                    "waitlisted",
                                    "promoted",
                                    "cancelled",
                                    "removed",
                                    "event_changed",
                                    "event_cancelled",
                                ],
                            )
                        ),
                        name="outgoing_message_kind_known",
                    ),
                ],
            },
        ),
    ]
