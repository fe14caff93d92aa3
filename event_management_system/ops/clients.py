"""Who is on the other end of a request: the client's address, read one way by everything
that needs it (the request log, /metrics' access rule, the API's request budgets and
idempotency keys, the admin's sign-in lock-out)."""

import ipaddress

from rest_framework.throttling import BaseThrottle


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or with DJANGO_TRUSTED_PROXIES (DRF's NUM_PROXIES) set,
    the X-Forwarded-For entry the outermost trusted proxy appended.

    An entry that is not an address (a proxy passing on the client's own text) counts as the
    proxy's address: it must neither buy a fresh budget nor break a sign-in.
    """
    address = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return request.META.get("REMOTE_ADDR")
