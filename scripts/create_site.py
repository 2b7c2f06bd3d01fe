"""Create (idempotently) the demo site.

Run with ``zconsole run instance/etc/zope.conf scripts/create_site.py`` (``make site``).

A classic-UI Plone site in Swedish with the add-on activated, a staff user in the
"Vårdpersonal" group and three students: one with full contacts and a guardian, one
whose guardian lacks a mobile number (shows the refusal rule), one with two guardians.
"""

from AccessControl.SecurityManagement import newSecurityManager
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from plone import api
from plone.base.utils import get_installer
from plone.dexterity.utils import createContentInContainer
from plone.distribution.api import site as site_api
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from Testing.makerequest import makerequest
from urllib.parse import urlsplit
from zope.component.hooks import setSite

import os
import prorenata.videomote
import pytz
import sys
import transaction

SITE_ID = os.environ.get("VIDEOMOTE_SITE_ID", "Plone")
ADMIN = ("admin", os.environ.get("VIDEOMOTE_ADMIN_PASSWORD", "admin"))
STAFF = ("skolskoterska", os.environ.get("VIDEOMOTE_STAFF_PASSWORD", "videomote"))
STAFF_GROUP = "vardpersonal"
HOST = os.environ.get("VIDEOMOTE_HOST", "localhost")
PORT = os.environ.get("VIDEOMOTE_PORT", "8080")
DEMO_SMTP_PORT = int(os.environ.get("VIDEOMOTE_MAIL_PORT", "8025"))

STUDENTS = (
    {
        "title": "Alva Andersson",
        "contact_email": "alva.andersson@example.se",
        "contact_mobile": "+46701234501",
        "guardians": [
            {
                "name": "Anna Andersson",
                "email": "anna.andersson@example.se",
                "mobile": "+46701234502",
                "primary": True,
            }
        ],
    },
    {
        # The primary guardian has no mobile: booking "Vårdnadshavare" is refused.
        "title": "Bruno Berg",
        "contact_email": "bruno.berg@example.se",
        "contact_mobile": "+46701234511",
        "guardians": [
            {
                "name": "Bodil Berg",
                "email": "bodil.berg@example.se",
                "mobile": None,
                "primary": True,
            }
        ],
    },
    {
        "title": "Cornelia Carlsson",
        "contact_email": "cornelia.carlsson@example.se",
        "contact_mobile": "+46701234521",
        "guardians": [
            {
                "name": "Cecilia Carlsson",
                "email": "cecilia.carlsson@example.se",
                "mobile": "+46701234522",
                "primary": True,
            },
            {
                "name": "Claes Carlsson",
                "email": "claes.carlsson@example.se",
                "mobile": "+46701234523",
                "primary": False,
            },
        ],
    },
)


def ensure_admin(app) -> None:
    users = app.acl_users
    if users.getUserById(ADMIN[0]) is None:
        users._doAddUser(ADMIN[0], ADMIN[1], ["Manager"], [])
        # Site creation begins a new transaction, which would drop an uncommitted user.
        transaction.commit()
    newSecurityManager(None, users.getUserById(ADMIN[0]).__of__(users))


def ensure_site(app):
    if SITE_ID in app.objectIds():
        return app[SITE_ID]
    site = site_api.create(
        app,
        "classic",
        {
            "site_id": SITE_ID,
            "title": "Prorenata Journal (demo)",
            "description": "Demo av Säkert Videomöte",
            "default_language": "sv",
            "portal_timezone": "Europe/Stockholm",
            "setup_content": False,
        },
    )
    print(f"Created site {SITE_ID}")
    return site


def ensure_addon(site) -> None:
    installer = get_installer(site)
    if not installer.is_product_installed("prorenata.videomote"):
        installer.install_product("prorenata.videomote")
        print("Activated Säkert Videomöte")


def ensure_staff() -> None:
    if api.group.get(groupname=STAFF_GROUP) is None:
        api.group.create(groupname=STAFF_GROUP, title="Vårdpersonal", roles=["Clinician"])
    if api.user.get(username=STAFF[0]) is None:
        api.user.create(
            username=STAFF[0],
            password=STAFF[1],
            email="skolskoterska@example.se",
            properties={"fullname": "Sara Skolsköterska"},
        )
    if STAFF[0] not in [u.getId() for u in api.user.get_users(groupname=STAFF_GROUP)]:
        api.group.add_user(groupname=STAFF_GROUP, username=STAFF[0])


def ensure_students(site) -> None:
    if "elever" not in site.objectIds():
        api.content.create(container=site, type="Folder", id="elever", title="Elever/patienter")
    folder = site["elever"]
    # Staff see, add, complete (Editor) and book for every record in this folder; nobody
    # else does. They delete nothing: meetings are cancelled, and records and meetings are
    # deleted only by administrators (the record workflow); the folder itself, which
    # Editors could otherwise delete with every record in it, likewise.
    api.group.grant_roles(
        groupname=STAFF_GROUP, obj=folder, roles=["Reader", "Contributor", "Editor"]
    )
    folder.manage_permission("Delete objects", ["Manager", "Site Administrator"], acquire=False)
    existing = {obj.Title() for obj in folder.objectValues()}
    for student in STUDENTS:
        if student["title"] not in existing:
            createContentInContainer(folder, "Patient", checkConstraints=False, **student)
            print(f"Added student {student['title']}")


def ensure_demo_mail() -> None:
    """Send the demo's e-mail to the local SMTP server that `make run` starts."""
    if api.portal.get_registry_record("plone.smtp_port") != DEMO_SMTP_PORT:
        api.portal.set_registry_record("plone.smtp_host", "localhost")
        api.portal.set_registry_record("plone.smtp_port", DEMO_SMTP_PORT)
    if not api.portal.get_registry_record("plone.email_from_address"):
        api.portal.set_registry_record("plone.email_from_address", "noreply@journal.example.se")
        api.portal.set_registry_record("plone.email_from_name", "Prorenata Journal")


PUBLIC_URL = "prorenata.videomote.public_base_url"
MEDIA_URL = "prorenata.videomote.media_server_url"
MEDIA_NODES = "prorenata.videomote.media_nodes"
#: How a server listening on every interface names its host; nothing binds to these here.
ALL_INTERFACES = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - recognised, never bound
LOOPBACK = {"localhost", "127.0.0.1", "::1", *ALL_INTERFACES}
# The add-on's own icon (a script run by zconsole has no __file__).
ICON = Path(prorenata.videomote.__file__).parent / "browser" / "static" / "favicon.ico"


def demo_public_url(current: str | None, host: str, port: str, site_id: str) -> str | None:
    """The address the demo's e-mails and SMS should link to, or None to keep ``current``.

    The demo serves http://HOST:PORT/; run in a script there is no request, so without a
    setting links would read http://nohost/Plone. A plain-http loopback address (or none)
    can only be a demo's own, so it follows HOST and PORT on every run (``make run
    PORT=8081``); anything else was configured by someone (a real deployment is https,
    browsers give camera and microphone only there) and is kept.
    """
    if host in ALL_INTERFACES:
        host = "localhost"  # listening everywhere: this machine is reachable as localhost
    if ":" in host:
        host = f"[{host}]"
    wanted = f"http://{host}:{port}/{site_id}"
    parts = urlsplit(current or "")
    if current and not (parts.scheme == "http" and (parts.hostname or "") in LOOPBACK):
        return None
    return None if current == wanted else wanted


def ensure_public_url() -> None:
    current = api.portal.get_registry_record(PUBLIC_URL, default=None)
    wanted = demo_public_url(current, HOST, PORT, SITE_ID)
    # `make run-cluster` serves the demo over https through HAProxy (scripts/cluster.py)
    cluster_url = os.environ.get("VIDEOMOTE_PUBLIC_URL")
    if cluster_url and current != cluster_url:
        demo_own = demo_public_url(current, HOST, PORT, SITE_ID) is not None or (
            current == f"http://{HOST}:{PORT}/{SITE_ID}"
        )
        if demo_own or not current:
            wanted = cluster_url
    media_url = os.environ.get("VIDEOMOTE_MEDIA_URL")
    if media_url:
        api.portal.set_registry_record(MEDIA_URL, media_url)
    # `make run-cluster`: one media node per core, one line each ("public internal").
    media_nodes = os.environ.get("VIDEOMOTE_MEDIA_NODES")
    if media_nodes is not None:
        lines = [line.strip() for line in media_nodes.splitlines() if line.strip()]
        api.portal.set_registry_record(MEDIA_NODES, lines)
        print(f"{len(lines)} media node(s) configured")
    if wanted is not None:
        api.portal.set_registry_record(PUBLIC_URL, wanted)
        print(f"Links in e-mail and SMS lead to {wanted}")
    elif current and urlsplit(current).scheme != "http":
        print(f"Links in e-mail and SMS lead to {current} (configured, kept)")


def ensure_demo_look(app, site) -> None:
    """The add-on's icon at the server's root and as the site's favicon (browsers ask
    /favicon.ico whatever the page says); no "Upcoming Events" portlet: it is English on
    this Swedish site and lists meeting titles on every page; staff have "Dagens
    aktiviteter" and "Kalender", which show each their own meetings."""
    from OFS.Image import manage_addFile
    from plone.formwidget.namedfile.converter import b64encode_file
    from plone.portlets.interfaces import IPortletAssignmentMapping
    from plone.portlets.interfaces import IPortletManager
    from zope.component import getMultiAdapter
    from zope.component import getUtility

    icon = ICON.read_bytes()
    if "favicon.ico" not in app.objectIds():
        manage_addFile(app, "favicon.ico", file=icon, content_type="image/vnd.microsoft.icon")
    if not api.portal.get_registry_record("plone.site_favicon", default=None):
        api.portal.set_registry_record("plone.site_favicon", b64encode_file("favicon.ico", icon))
        api.portal.set_registry_record("plone.site_favicon_mimetype", "image/vnd.microsoft.icon")
    manager = getUtility(IPortletManager, name="plone.rightcolumn", context=site)
    assignments = getMultiAdapter((site, manager), IPortletAssignmentMapping)
    if "events" in assignments:
        del assignments["events"]
        print('Removed the "Upcoming Events" portlet')


def ensure_todays_meeting(site) -> None:
    """A meeting later today for the staff user, so "Dagens aktiviteter" shows something."""
    zone = pytz.timezone("Europe/Stockholm")
    now = datetime.now(zone)
    start = (now + timedelta(minutes=60 - now.minute % 30)).replace(second=0, microsecond=0)
    if start.date() != now.date() or start.hour >= 22:
        return
    folder = site["elever"]
    alva = next(o for o in folder.objectValues() if o.Title() == STUDENTS[0]["title"])
    if any(m.portal_type == "VideoMeeting" for m in alva.objectValues()):
        return
    with api.env.adopt_user(username=STAFF[0]):
        book_meeting(
            Booking(
                title="Uppföljande samtal",
                start=start.replace(tzinfo=None),
                end=(start + timedelta(minutes=30)).replace(tzinfo=None),
                patient_uid=api.content.get_uuid(alva),
                contact_choice="guardian",
            ),
            organiser=STAFF[0],
        )
    print(f"Booked a demo meeting today at {start:%H.%M}")


def main(app) -> None:
    app = makerequest(app)
    app.REQUEST["PARENTS"] = [app]
    ensure_admin(app)
    site = ensure_site(app)
    setSite(site)
    ensure_addon(site)
    ensure_staff()
    ensure_students(site)
    ensure_demo_mail()
    ensure_public_url()
    ensure_demo_look(app, site)
    ensure_todays_meeting(site)
    transaction.commit()
    url = f"http://localhost:{PORT}/{SITE_ID}"
    print(
        "\nDemo site ready:\n"
        f"  {url}   (use localhost, not 127.0.0.1: Plone skips the theme there)\n"
        f"  Manager:  {ADMIN[0]} / {ADMIN[1]}\n"
        f"  Vårdpersonal (staff): {STAFF[0]} / {STAFF[1]}\n"
        f"  Students: {url}/elever\n"
        f"  Calendar: {url}/@@videomote-kalender\n"
        f"  Participants sign in at {url}/videomote; the demo's SMS arrive at\n"
        f"  {url}/@@videomote-sms-utkorg (as admin). Audit log: {url}/@@videomote-granskningslogg\n"
    )


if __name__ == "__main__":
    main(app)  # noqa: F821 - ``app`` is provided by ``zconsole run``
    sys.exit(0)
