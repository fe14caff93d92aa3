"""Routes under /api/: the events (and their iCalendar feed), an organiser's own events and
tokens, registrations by their token, webhook endpoints, the OpenAPI schema and its docs page;
any other path below it answers with a JSON 404."""

from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from api.auth.views import TokenView
from api.events.views import EventViewSet
from api.exceptions import not_found
from api.feeds.views import CalendarFeedViewSet
from api.me.views import OwnEventViewSet
from api.questions.views import QuestionViewSet
from api.registrations.views import RegistrationViewSet
from api.webhooks.views import WebhookEndpointViewSet


class OptionalSlashRouter(DefaultRouter):
    """Routes that match with or without the trailing slash, so no client is redirected
    (and no POST body lost) for leaving it off."""

    # JSON is the only format, so no `.json` suffix routes for every request to try first.
    include_format_suffixes = False

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("events", EventViewSet, basename="event")
router.register("me/events", OwnEventViewSet, basename="own-event")
router.register("registrations", RegistrationViewSet, basename="registration")
router.register(r"events/(?P<event_id>[0-9]+)/questions", QuestionViewSet, basename="question")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^auth/token/?$", TokenView.as_view(), name="token"),
    # iCalendar: the upcoming events (the list's filters apply) and one event.
    re_path(r"^events\.ics$", CalendarFeedViewSet.as_view({"get": "feed"}), name="event-feed"),
    re_path(
        r"^events/(?P<pk>[0-9]+)/event\.ics$",
        CalendarFeedViewSet.as_view({"get": "event_feed"}),
        name="event-ics",
    ),
    *router.urls,
    # Exempt, like every DRF view: otherwise a POST to an unknown path meets the CSRF check
    # and answers an HTML 403 instead of the JSON 404.
    re_path(r"^", csrf_exempt(not_found)),
]
