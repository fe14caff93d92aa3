"""The outbox: every email queued, its status and last error; failed ones can be retried."""

from django.contrib import admin, messages

from core.models import OutgoingMessage
from core.services import retry_messages


@admin.register(OutgoingMessage)
class OutgoingMessageAdmin(admin.ModelAdmin):
    """Read-only: messages are written by the services and sent by the worker."""

    list_display = [
        "id",
        "kind",
        "email",
        "event",
        "status",
        "attempts",
        "last_error",
        "created_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["email", "name"]
    list_select_related = ["event"]
    readonly_fields = [field.name for field in OutgoingMessage._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry the selected failed messages", permissions=["retry"])
    def retry(self, request, queryset):
        count = retry_messages(message_ids=list(queryset.values_list("pk", flat=True)))
        noun = "message" if count == 1 else "messages"
        self.message_user(request, f"{count} failed {noun} queued again.", messages.SUCCESS)

    def has_retry_permission(self, request):
        return request.user.has_perm("core.change_outgoingmessage")
