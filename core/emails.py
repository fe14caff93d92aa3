"""Email addresses as they are stored and compared: one mailbox, one spelling."""

import functools

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

EMAIL_MAX_LENGTH = 254

INVALID_DOMAIN_MESSAGE = (
    "Enter a valid email address: its domain is not a valid internationalised domain name."
)
TOO_LONG_MESSAGE = (
    "Ensure this email address has at most %(limit)d characters once its domain is written "
    "in ASCII (it has %(length)d)."
)


class NormalizedEmail(str):
    """An address as normalize_email returned it: normalising it again returns it unchanged,
    without checking it again (a registration's address is normalised by the serializer, then
    handed to the service, which normalises whatever its callers give it)."""

    __slots__ = ()


def normalize_email(email: str, *, syntax_checked: bool = False) -> NormalizedEmail:
    """`email` as stored: trimmed, its domain in lower-case ASCII (IDNA), the local part as given.

    `idn@Bücher.de` and `idn@xn--bcher-kva.de` are one mailbox, and both become the latter.
    Raises ValidationError for an address that is malformed, whose domain has no IDNA form, or
    that is longer than EMAIL_MAX_LENGTH once its domain is in ASCII. `syntax_checked` says the
    caller has run Django's `validate_email` on this very value (a form or serializer field has),
    so it is not run twice.
    """
    if type(email) is NormalizedEmail:
        return email
    email = email.strip()
    if not syntax_checked:
        validate_email(email)
    local, _, domain = email.rpartition("@")
    if not domain.startswith("["):  # an address literal, such as [192.0.2.1], is no name
        try:
            domain = ascii_domain(domain)
        except UnicodeError:  # idna.IDNAError, or a codec error it lets through
            raise ValidationError(INVALID_DOMAIN_MESSAGE, code="invalid") from None
    normalized = NormalizedEmail(f"{local}@{domain.lower()}")
    if len(normalized) > EMAIL_MAX_LENGTH:
        raise ValidationError(
            TOO_LONG_MESSAGE,
            code="max_length",
            params={"limit": EMAIL_MAX_LENGTH, "length": len(normalized)},
        )
    return normalized


# Most addresses share a few domains, and encoding one costs more than the rest of the address's
# checks together; a failure is not kept (lru_cache keeps no exception), so it is raised again.
@functools.lru_cache(maxsize=4096)
def ascii_domain(domain: str) -> str:
    """`domain` in ASCII, as IDNA 2008 with UTS #46 writes it: case, full-width forms and
    ignorable characters mapped as browsers map them. Raises UnicodeError for a domain with no
    such form."""
    return idna.encode(domain, uts46=True).decode("ascii")
