"""Registration tokens: a secret handed to the person who registered, of which only a hash is kept.

The secret is 256 bits from `secrets`, URL-safe; SHA-256 suffices for its hash, as for any
secret of full entropy (no password stretching needed: there is nothing to guess).
"""

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> tuple[str, str]:
    """A fresh secret and the hash to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored for `token`, and looked up by it."""
    return hashlib.sha256(token.encode()).hexdigest()
