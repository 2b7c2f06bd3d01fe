"""The server secret that keys every stored hash and signature of the add-on."""

from cryptography.fernet import Fernet
from persistent.mapping import PersistentMapping
from prorenata.videomote.storage import annotated

import base64
import hashlib
import os
import secrets

ANNOTATION_KEY = "prorenata.videomote.secrets"
ENVIRONMENT_KEY = "VIDEOMOTE_SECRET_KEY"


def secret_key(site) -> bytes:
    """The instance secret (``VIDEOMOTE_SECRET_KEY``) or one generated once per site.

    Setting the environment variable keeps the key out of the database, so a copy of
    the database alone cannot be used to test guesses of codes or tokens.
    """
    configured = os.environ.get(ENVIRONMENT_KEY)
    if configured:
        return configured.encode("utf-8")
    store = annotated(site, ANNOTATION_KEY, PersistentMapping)
    if "hash_key" not in store:
        store["hash_key"] = secrets.token_bytes(32)
    return store["hash_key"]


def _fernet(site):
    derived = hashlib.sha256(b"prorenata.videomote sealed values|" + secret_key(site)).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(site, value: str) -> str:
    """Encrypt a secret that must be usable again (a CalDAV app password).

    Keyed by the instance secret: with ``VIDEOMOTE_SECRET_KEY`` set, a copy of the
    database alone does not reveal it.
    """
    return _fernet(site).encrypt(value.encode("utf-8")).decode("ascii")


def unseal(site, sealed: str) -> str:
    return _fernet(site).decrypt(sealed.encode("ascii")).decode("utf-8")
