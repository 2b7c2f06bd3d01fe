"""Re-sealing stored secrets under the newest key, so a retired key can be dropped
(Plone shell; the keys themselves are ``access.keys``).

What is sealed and kept: clinicians' CalDAV app passwords and the bodies of queued
mail. Hashes of meeting codes, link tokens and one-time codes cannot be re-made (only
the hash is stored): they stay checkable while their key is listed, and lose meaning
on their own (a one-time code after minutes, a meeting's code once it is over).
"""

from cryptography.fernet import InvalidToken
from persistent.mapping import PersistentMapping
from prorenata.videomote.access.keys import ANNOTATION_KEY
from prorenata.videomote.access.keys import ENVIRONMENT_KEY
from prorenata.videomote.access.keys import is_sealed_with_newest
from prorenata.videomote.access.keys import reseal
from prorenata.videomote.access.keys import seal
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.notify.outbox import outbox_for
from prorenata.videomote.storage import annotated

import base64
import os


def reseal_site(site) -> dict[str, int]:
    """Re-seal every stored secret not yet under the newest key; what was done, counted.

    ``unreadable`` counts seals no configured key opens (their key was dropped too
    early): they are left as they are, and the report says so.
    """
    done = {"passwords": 0, "mail": 0, "current": 0, "unreadable": 0}

    def renewed(sealed: str) -> str | None:
        if is_sealed_with_newest(site, sealed):
            done["current"] += 1
            return None
        try:
            return reseal(site, sealed)
        except InvalidToken:
            done["unreadable"] += 1
            return None

    for record in (accounts(site, create=False) or {}).values():
        if record.password and (new := renewed(record.password)) is not None:
            record.password = new
            done["passwords"] += 1
    outbox = outbox_for(site, create=False)
    for mail in outbox.undelivered() if outbox is not None else ():
        if not mail.body:
            continue
        if not mail.sealed:
            # Queued before sealing existed: sealed now, as new mail is.
            plain = base64.b64encode(mail.body).decode("ascii")
            mail.body, mail.sealed = seal(site, plain).encode("ascii"), True
            done["mail"] += 1
        elif (new := renewed(mail.body.decode("ascii"))) is not None:
            mail.body = new.encode("ascii")
            done["mail"] += 1
    return done


def forget_site_key(site) -> bool:
    """Drop the key the site generated for itself before ``VIDEOMOTE_SECRET_KEY`` was
    set (it stays a reader until then, see ``access.keys.secret_keys``): a key kept in
    the database lets a copy of the database forge cookies. Refused (False) while the
    variable is not set, since that key is then the only one. Re-seal first."""
    if not os.environ.get(ENVIRONMENT_KEY):
        return False
    store = annotated(site, ANNOTATION_KEY, PersistentMapping, create=False)
    if store is None or "hash_key" not in store:
        return False
    del store["hash_key"]
    return True
