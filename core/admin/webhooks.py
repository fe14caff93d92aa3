"""Webhook endpoints (made, changed, rotated and pinged through core.services) and their
deliveries, read-only with every attempt, redelivered by an action."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from core.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEventType
from core.services import (
    create_webhook_endpoint,
    ping_webhook_endpoint,
    redeliver_webhook,
    rotate_webhook_secret,
    update_webhook_endpoint,
)
from core.webhooks import check_url

SECRET_SHOWN_ONCE = "The signing secret of {url}, shown this once: {secret}"


class WebhookEndpointForm(forms.ModelForm):
    """The endpoint's owner, URL (checked as the API checks it), types and switch."""

    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["owner", "url", "event_types", "enabled"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Endpoints, written through core.services; the secret is shown once, when made or
    rotated."""

    form = WebhookEndpointForm
    list_display = ["id", "url", "owner", "enabled", "disabled_reason", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = ["disabled_reason", "previous_secret_expires_at", "created_at"]
    actions = ["rotate_secret", "ping"]

    def get_readonly_fields(self, request, obj=None):
        # The owner is chosen once, when the endpoint is made.
        return [*self.readonly_fields, "owner"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {
            "url": data["url"],
            "event_types": data["event_types"],
            "enabled": data["enabled"],
        }
        if change:
            update_webhook_endpoint(endpoint_id=obj.pk, **fields)
            return
        created = create_webhook_endpoint(owner=data["owner"], **fields)
        obj.pk, obj.secret, obj.created_at = created.pk, created.secret, created.created_at
        self.message_user(request, SECRET_SHOWN_ONCE.format(url=created.url, secret=created.secret))

    def delete_model(self, request, obj):
        obj.delete()

    @admin.action(description="Rotate the secret (the old one signs for 24 more hours)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            rotated = rotate_webhook_secret(endpoint_id=endpoint.pk)
            self.message_user(
                request, SECRET_SHOWN_ONCE.format(url=rotated.url, secret=rotated.secret)
            )

    @admin.action(description="Send a test delivery")
    def ping(self, request, queryset):
        for endpoint in queryset:
            ping_webhook_endpoint(endpoint_id=endpoint.pk)
        self.message_user(request, f"{queryset.count()} test deliveries queued.", messages.SUCCESS)


class WebhookAttemptInline(admin.TabularInline):
    """Every try, read-only."""

    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["attempted_at", "status_code", "duration_ms", "error", "response_body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Read-only: deliveries are made by the worker; staff may redeliver them."""

    list_display = ["id", "endpoint", "message", "status", "attempts", "created_at", "delivered_at"]
    list_filter = ["status"]
    search_fields = ["message__uid", "endpoint__url"]
    list_select_related = ["endpoint", "message"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Redeliver the selected deliveries", permissions=["view"])
    def redeliver(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        for delivery_id in ids:
            redeliver_webhook(delivery_id=delivery_id)
        self.message_user(request, f"{len(ids)} deliveries queued again.", messages.SUCCESS)
