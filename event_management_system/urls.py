"""Top-level routes: the API under /api/, the staff admin under /admin/, the registration page
emails link to under /registrations/, the door page under /door/, and `/` leading to the API's
docs."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from api.throttling import budgeted_posts
from core.views import DoorPage, RegistrationPage
from event_management_system.paths import API_PREFIX

urlpatterns = [
    path("", RedirectView.as_view(url=f"{API_PREFIX}docs/")),
    path("admin/", admin.site.urls),
    path(API_PREFIX.removeprefix("/"), include("api.urls")),
    re_path(
        r"^registrations/(?P<token>[A-Za-z0-9_-]+)/$",
        # The page's Cancel button spends the same budget as DELETE /api/registrations/{token}/.
        budgeted_posts(RegistrationPage.as_view(), scope="cancel"),
        name="registration-page",
    ),
    path("door/", DoorPage.as_view(), name="door"),
]

if settings.API_BROWSABLE:
    # The browsable API's "Log in" and "Log out" are the admin's own: one sign-in, one session.
    signing_in = [
        path(
            "login/",
            RedirectView.as_view(pattern_name="admin:login", query_string=True),
            name="login",
        ),
        path("logout/", admin.site.logout, name="logout"),
    ]
    urlpatterns.append(path("api-auth/", include((signing_in, "rest_framework"))))

handler400 = "api.exceptions.bad_request"
handler404 = "api.exceptions.not_found"
handler500 = "api.exceptions.server_error"
