"""Where the API is mounted: the one place its path prefix is written.

The URL configuration mounts the API here; the middleware that act on API requests alone and
the links written into emails, calendars and the docs' examples read it from here. A module of
its own, importing nothing, so core may read it without importing the API or the URLs.
"""

API_PREFIX = "/api/"
