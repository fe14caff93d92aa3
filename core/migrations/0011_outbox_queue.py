"""The outbox becomes the worker's queue: each message says when it is due (core/outbox.py),
and the queued ones are indexed by it. django-tasks' task rows are no longer written."""

import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0010_event_change_version'),
    ]

    operations = [
        migrations.AddField(
            model_name='outgoingmessage',
            name='available_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.AddIndex(
            model_name='outgoingmessage',
            index=models.Index(condition=models.Q(('status', 'queued')), fields=['available_at', 'id'], name='outgoing_message_due'),
        ),
    ]
