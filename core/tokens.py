"""Registration tokens: a secret handed to the person who registered, of which only a hash is kept.

A token is derived from a random nonce stored with the registration and a key derived from
SECRET_KEY: URL-safe base64 of HMAC-SHA256(key, nonce), 256 bits. So the worker can put the
token in an email long after the registration answered with it (a promotion from the waiting
list), while the database alone, nonce and hash, yields no token. SHA-256 suffices for the hash,
as for any secret of full entropy (no password stretching needed: there is nothing to guess).
Tokens issued before nonces existed were random and are looked up by their hash all the same.
"""

import base64
import hashlib
import hmac
import secrets

from django.conf import settings

NONCE_BYTES = 16
# Separates this use of SECRET_KEY from every other (sessions, signing).
KEY_SALT = b"core.tokens.registration"


def new_token() -> tuple[str, str, str]:
    """A fresh nonce, the secret derived from it and the hash to store for that secret."""
    nonce = secrets.token_hex(NONCE_BYTES)
    token = derive_token(nonce)
    return nonce, token, hash_token(token)


def derive_token(nonce: str, *, secret: str | None = None) -> str:
    """The token `nonce` stands for under `secret` (default: SECRET_KEY)."""
    secret = settings.SECRET_KEY if secret is None else secret
    key = hmac.new(KEY_SALT, secret.encode(), hashlib.sha256).digest()
    digest = hmac.new(key, nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def recover_token(*, nonce: str | None, token_hash: str | None) -> str | None:
    """The token of a stored registration, re-derived from its nonce: under SECRET_KEY or one
    of SECRET_KEY_FALLBACKS, whichever gives the stored hash. None when none does, or when the
    registration has no nonce (issued before nonces, or written without a token)."""
    if not nonce or not token_hash:
        return None
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        token = derive_token(nonce, secret=secret)
        if hmac.compare_digest(hash_token(token), token_hash):
            return token
    return None


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored for `token`, and looked up by it."""
    return hashlib.sha256(token.encode()).hexdigest()
