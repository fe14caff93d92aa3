"""On PostgreSQL, a registration's decision and writes as one function (core/sql/registration.py).
"""

from django.db import migrations

from core.sql import registration
from core.sql.operations import RunForVendor


class Migration(migrations.Migration):
    dependencies = [("core", "0011_outbox_queue")]

    operations = [
        RunForVendor(
            forward={"postgresql": registration.CREATE_WITHOUT_ANSWERS},
            backward={"postgresql": registration.DROP_WITHOUT_ANSWERS},
        )
    ]
