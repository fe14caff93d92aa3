"""What every admin here shares: a refused submission keeps nothing and never ends in a 500."""

from django.contrib import admin, messages
from django.db import models
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
            # Refused while saving, after the form had passed: someone took the last seat in
            # between, or the submission's own new rows leave its new capacity too small. The
            # admin's transaction has rolled back; say so instead of a 500.
            self.message_user(request, NOTHING_SAVED.format(message=error.message), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
