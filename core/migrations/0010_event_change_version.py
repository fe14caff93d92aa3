"""`Event.change_version` declared on the model: PostgreSQL has kept the column since migration
0004, and now sets it at every insert as well as every update (core/sql/versions.py); SQLite
gains the column, always 0."""

from django.db import migrations, models

from core.sql import versions
from core.sql.operations import OnlyOn, RunForVendor


class Migration(migrations.Migration):
    dependencies = [("core", "0009_mail_outbox")]

    operations = [
        OnlyOn(
            "sqlite",
            migrations.AddField(
                model_name="event",
                name="change_version",
                field=models.BigIntegerField(db_default=0, default=0, editable=False),
            ),
        ),
        RunForVendor(
            forward={"postgresql": versions.NEW_VERSION_ON_INSERT},
            backward={"postgresql": versions.NEW_VERSION_ON_UPDATE_ONLY},
        ),
    ]
