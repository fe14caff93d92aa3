"""What every admin here shares: a refused submission keeps nothing and never ends in a 500."""

from django.contrib import admin, messages
from django.db import models, router, transaction
from django.http import HttpResponseRedirect

from core.exceptions import DomainError
from core.text import validate_not_blank

NOTHING_SAVED = "Nothing was saved: {message}"


class ServiceAdmin(admin.ModelAdmin):
    """A ModelAdmin whose writes are calls to core.services."""

    # A name or location of invisible characters alone is blank, as it is through the API.
    formfield_overrides = {models.CharField: {"validators": [validate_not_blank]}}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            # Refused while saving, after the form had passed: someone else changed the event
            # in between. The admin's transaction has rolled back; say so instead of a 500.
            self.message_user(request, NOTHING_SAVED.format(message=error.message), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        response = super().render_change_form(request, context, add, change, form_url, obj)
        if request.method == "POST":
            # A submitted form shown again was refused somewhere. Registrations are made while
            # their form validates (so a refusal can be shown on it); undo them with the rest.
            transaction.set_rollback(True, using=router.db_for_write(self.model))
        return response
