"""Re-seal stored secrets under the newest key (step 3 of a key rotation).

Run with ``zconsole run instance/etc/zope.conf scripts/reseal.py`` with the same
``VIDEOMOTE_SECRET_KEY`` (the new key) and ``VIDEOMOTE_OLD_SECRET_KEYS`` (the old ones)
that Plone runs with. CalDAV app passwords and queued mail are sealed again under the
new key; then the old key can be removed from ``VIDEOMOTE_OLD_SECRET_KEYS`` (once the
meetings booked before the rotation are over: their codes and links are hashes that
only the old key checks).

``--forget-site-key`` (after the script's name) also drops the key the site generated
for itself, if it ran without ``VIDEOMOTE_SECRET_KEY`` before: until then that key,
kept in the database, still verifies.
"""

from prorenata.videomote.access.keys import key_id
from prorenata.videomote.access.keys import secret_keys
from prorenata.videomote.rotation import forget_site_key
from prorenata.videomote.rotation import reseal_site
from zope.component.hooks import setSite

import os
import sys
import transaction

SITE_ID = os.environ.get("VIDEOMOTE_SITE_ID", "Plone")


def main(app, argv: list[str] | None = None) -> int:
    site = app[SITE_ID]
    setSite(site)
    keys = secret_keys(site)
    print(f"newest key {key_id(keys[0])}; still read: {', '.join(map(key_id, keys[1:])) or '-'}")
    done = reseal_site(site)
    transaction.commit()
    print(
        f"re-sealed {done['passwords']} CalDAV passwords and {done['mail']} queued mails; "
        f"{done['current']} were already under the newest key"
    )
    if done["unreadable"]:
        print(f"{done['unreadable']} seals open with no configured key: left as they were")
        return 1
    if "--forget-site-key" in (sys.argv[1:] if argv is None else argv):
        forgotten = forget_site_key(site)
        transaction.commit()
        print("the site's own key is forgotten" if forgotten else "no site key forgotten")
    return 0


if __name__ == "__main__":
    sys.exit(main(app))  # noqa: F821 - ``app`` is provided by ``zconsole run``
