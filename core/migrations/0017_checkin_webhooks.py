"""On PostgreSQL, an online check-in's function writes the admission's `checkin.created`
webhook message in its own statement: its signature gains the message's id, so the old one
goes and the new one comes (core/sql/checkin.py)."""

from django.db import migrations

from core.sql import checkin
from core.sql.operations import RunForVendor


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0016_webhooks'),
    ]

    operations = [
        RunForVendor(
            forward={"postgresql": [checkin.DROP_WITHOUT_WEBHOOKS, checkin.CREATE]},
            backward={"postgresql": [checkin.DROP, checkin.CREATE_WITHOUT_WEBHOOKS]},
        ),
    ]
