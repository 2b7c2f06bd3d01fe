"""The server secret that keys every stored hash and signature of the add-on."""

from persistent.mapping import PersistentMapping
from zope.annotation.interfaces import IAnnotations

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
    annotations = IAnnotations(site)
    store = annotations.get(ANNOTATION_KEY)
    if store is None:
        store = annotations[ANNOTATION_KEY] = PersistentMapping()
    if "hash_key" not in store:
        store["hash_key"] = secrets.token_bytes(32)
    return store["hash_key"]
