"""Registration tokens: derived from a stored nonce and the server's secret, stored as a hash."""

import hashlib

from core.tokens import derive_token, hash_token, new_token, recover_token


def test_a_new_token_is_derived_from_its_nonce_and_stored_as_its_hash():
    nonce, token, digest = new_token()
    assert len(token) == 43  # 256 bits, URL-safe base64 without padding
    assert token == derive_token(nonce)
    assert digest == hashlib.sha256(token.encode()).hexdigest() == hash_token(token)
    assert nonce not in token
    assert token not in digest


def test_every_token_is_new():
    assert len({new_token()[1] for _ in range(100)}) == 100


def test_a_stored_registration_gives_back_its_token(settings):
    nonce, token, digest = new_token()
    assert recover_token(nonce=nonce, token_hash=digest) == token


def test_the_database_alone_yields_no_token(settings):
    nonce, token, digest = new_token()
    settings.SECRET_KEY = "someone-else's-secret-key-0123456789-0123456789-0123456789"
    # Without the server's secret, the nonce and the hash give nothing.
    assert recover_token(nonce=nonce, token_hash=digest) is None
    assert derive_token(nonce) != token


def test_a_rotated_secret_key_still_recovers_tokens_issued_under_the_old_one(settings):
    nonce, token, digest = new_token()
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-0123456789-0123456789-0123456789"
    assert recover_token(nonce=nonce, token_hash=digest) == token


def test_a_registration_without_a_nonce_has_no_token_to_recover():
    assert recover_token(nonce="", token_hash=hash_token("an-old-random-token")) is None
    assert recover_token(nonce="abc", token_hash=None) is None
