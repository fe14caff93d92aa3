"""The upcoming list's own index, (status, start_time, id): its page and its next start are read
from an index even before the event table's statistics exist (core.models.Event.Meta)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0017_checkin_webhooks'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='event',
            index=models.Index(
                fields=['status', 'start_time', 'id'], name='event_status_start_time_id'
            ),
        ),
    ]
