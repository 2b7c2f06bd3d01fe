"""The server secrets that key every stored hash, seal and signature of the add-on.

A key can be rotated without breaking what was made with the one before: the newest key
(``VIDEOMOTE_SECRET_KEY``) makes every new hash, seal and signature, and the retired
ones (``VIDEOMOTE_OLD_SECRET_KEYS``, comma-separated) still open and verify what they
made. Hashes are checked against each key (a code cannot be re-hashed: only its hash is
stored); seals are Fernet tokens under a ``MultiFernet`` and can be re-sealed under the
newest key (:func:`reseal`, ``scripts/reseal.py``), so a retired key can be dropped.
Reading the variables is ``access.signing.parse_keys`` (plain Python).
"""

from collections.abc import Mapping
from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet
from persistent.mapping import PersistentMapping
from prorenata.videomote.access.signing import parse_keys
from prorenata.videomote.storage import annotated

import base64
import hashlib
import os
import secrets

ANNOTATION_KEY = "prorenata.videomote.secrets"
ENVIRONMENT_KEY = "VIDEOMOTE_SECRET_KEY"
OLD_ENVIRONMENT_KEY = "VIDEOMOTE_OLD_SECRET_KEYS"


def key_id(key: bytes) -> str:
    """A short name of a key that reveals nothing of it (for logs and the re-seal
    report): which key made what, without showing the key."""
    return hashlib.sha256(b"prorenata.videomote key id|" + key).hexdigest()[:8]


def secret_keys(site, environ: Mapping[str, str] | None = None) -> tuple[bytes, ...]:
    """Every key that may verify or open, newest first (the first makes new ones).

    With ``VIDEOMOTE_SECRET_KEY`` set, the key the site generated for itself before
    (if any) stays last among the readers, so setting the variable for the first time
    breaks nothing either. Without it, the site's own key is the newest.
    """
    environ = os.environ if environ is None else environ
    configured = parse_keys(environ.get(ENVIRONMENT_KEY), environ.get(OLD_ENVIRONMENT_KEY))
    if environ.get(ENVIRONMENT_KEY):
        store = annotated(site, ANNOTATION_KEY, PersistentMapping, create=False)
        generated = store.get("hash_key") if store is not None else None
        if generated and generated not in configured:
            return (*configured, generated)
        return configured
    store = annotated(site, ANNOTATION_KEY, PersistentMapping)
    if "hash_key" not in store:
        store["hash_key"] = secrets.token_bytes(32)
    generated = store["hash_key"]
    return (generated, *(key for key in configured if key != generated))


def secret_key(site) -> bytes:
    """The newest key, the one every new hash, seal and signature is made with.

    Setting the environment variable keeps the key out of the database, so a copy of
    the database alone cannot be used to test guesses of codes or tokens.
    """
    return secret_keys(site)[0]


def _fernet(key: bytes):
    derived = hashlib.sha256(b"prorenata.videomote sealed values|" + key).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def _multi(site):
    return MultiFernet([_fernet(key) for key in secret_keys(site)])


def seal(site, value: str) -> str:
    """Encrypt a secret that must be usable again (a CalDAV app password).

    Keyed by the newest instance secret: with ``VIDEOMOTE_SECRET_KEY`` set, a copy of
    the database alone does not reveal it.
    """
    return _multi(site).encrypt(value.encode("utf-8")).decode("ascii")


def unseal(site, sealed: str) -> str:
    """Open a seal made under any configured key (the newest or a retired one)."""
    return _multi(site).decrypt(sealed.encode("ascii")).decode("utf-8")


def reseal(site, sealed: str) -> str:
    """The same secret sealed under the newest key (raises if no configured key opens
    it: ``cryptography.fernet.InvalidToken``)."""
    return _multi(site).rotate(sealed.encode("ascii")).decode("ascii")


def is_sealed_with_newest(site, sealed: str) -> bool:
    """Whether the newest key alone opens ``sealed`` (re-sealing it would change
    nothing)."""
    try:
        _fernet(secret_key(site)).decrypt(sealed.encode("ascii"))
    except InvalidToken:
        return False
    return True
