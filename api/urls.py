"""Routes under /api/; any other path below it answers with a JSON 404."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from api.exceptions import not_found
from api.views import EventViewSet


class OptionalSlashRouter(DefaultRouter):
    """Routes that match with or without the trailing slash, so no client is redirected
    (and no POST body lost) for leaving it off."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("events", EventViewSet, basename="event")

urlpatterns = [*router.urls, re_path(r"^", not_found)]
