"""Every saved or deleted event, and every saved attendee, advances the data version.

Attendees leave through cancel_registration or the sample-data loader, which call
data_changed() themselves, as do the loader's bulk inserts (which send no signal). A receiver
for attendee deletes would make every queryset delete fetch its rows first.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.data_version import data_changed
from core.models import Attendee, Event


@receiver(post_save, sender=Event)
@receiver(post_delete, sender=Event)
@receiver(post_save, sender=Attendee)
def advance_data_version(**kwargs) -> None:
    data_changed()
