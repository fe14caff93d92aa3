"""The record of erasures: which event, how many registrations, when and why; never whose."""

from django.contrib import admin

from core.models import ErasureRecord


@admin.register(ErasureRecord)
class ErasureRecordAdmin(admin.ModelAdmin):
    """Read-only: records are written by the erasures themselves (core.services)."""

    list_display = ["erased_at", "event_id", "count", "reason"]
    list_filter = ["reason"]
    readonly_fields = [field.name for field in ErasureRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
