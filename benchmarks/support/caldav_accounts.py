"""Clinicians with connected calendars and booked meetings, for ``caldav_sync.py``.

Run by ``zconsole run <zope.conf> benchmarks/support/caldav_accounts.py`` on the demo site,
before the server starts. ``BENCH_CALDAV_URL`` is the Radicale, ``BENCH_CLINICIANS`` a JSON
list of [user id, number of meetings]; ``BENCH_OUT`` receives a JSON object: user id ->
{ical uid: meeting path}; ``BENCH_SEEDED`` a JSON list of the user ids whose calendars are
written into Radicale's storage (``BENCH_CALDAV_STORAGE``, see ``seed_calendar``) instead
of by the first round. The bookings go
through ``book_meeting`` in transactions of ``BATCH``; their invitations are not queued:
they are the set-up, not what is measured.
"""

from AccessControl.SecurityManagement import newSecurityManager
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from plone import api
from prorenata.videomote.access.keys import seal
from prorenata.videomote.caldav_bridge.accounts import CalDAVAccountRecord
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.caldav_bridge.accounts import remember_meeting
from prorenata.videomote.caldav_bridge.accounts import status_row
from prorenata.videomote.caldav_bridge.client import CalendarAccount
from prorenata.videomote.caldav_bridge.client import canonical
from prorenata.videomote.caldav_bridge.events import to_ical
from prorenata.videomote.caldav_bridge.reconcile import ItemStatus
from prorenata.videomote.caldav_bridge.sync import _event_of
from prorenata.videomote.caldav_bridge.sync import _room_url
from prorenata.videomote.content.meeting import IVideoMeeting
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.interfaces import IMeetingBookedEvent
from prorenata.videomote.notify.delivery import stop_all
from prorenata.videomote.notify.subscribers import meeting_booked
from prorenata.videomote.timezone import configured_zone
from Testing.makerequest import makerequest
from urllib.parse import unquote
from urllib.parse import urljoin
from urllib.parse import urlsplit
from xml.etree import ElementTree
from zope.component import getGlobalSiteManager
from zope.component.hooks import setSite

import json
import os
import requests
import sys
import transaction

PASSWORD = "bench-password"
#: Bookings per day and the first day: 30-minute slots from 07:00, from tomorrow on.
PER_DAY = 16
#: Bookings per transaction.
BATCH = 1000
SYNC_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token/>
<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"""


def slot(i: int) -> tuple[datetime, datetime]:
    day = datetime.now().replace(hour=7, minute=0, second=0, microsecond=0)
    start = day + timedelta(days=1 + i // PER_DAY, minutes=30 * (i % PER_DAY))
    return start, start + timedelta(minutes=30)


def seed_calendar(record, meetings: list, storage: Path) -> None:
    """Write ``meetings`` into the clinician's calendar as the first push would, and store
    the item status and sync token that push would leave.

    The events are the journal's own (``to_ical`` of each meeting, as a round writes
    them), one ``<uid>.ics`` each, as a PUT names them; the calendar is found or made by
    the bridge's own code. They are written into Radicale's storage directly: one PUT per
    new item costs Radicale a look at every item already there (``has_uid``), and a
    whole-calendar PUT is slower still, so 5,000 by HTTP take most of an hour on a busy
    2-core machine. Radicale reads the files on the sync REPORT that follows, whose hrefs,
    ETags and token are stored: what is measured afterwards (a round after one change) is
    the same as after a pushed calendar.
    """
    account = CalendarAccount(record.url, record.username, PASSWORD)
    collection = str(account.calendar().url)
    folder = storage / "collection-root" / unquote(urlsplit(collection).path).strip("/")
    zone = configured_zone()
    status = {}
    for meeting in meetings:
        event = _event_of(meeting)
        ical = to_ical(event, zone, _room_url(meeting))
        (folder / f"{event.uid}.ics").write_text(ical, encoding="utf-8", newline="")
        status[event.uid] = event.fingerprint()
        remember_meeting(record, event.uid, meeting.UID())
    listing = requests.request(
        "REPORT",
        collection,
        data=SYNC_REPORT.encode(),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        auth=(record.username, PASSWORD),
        timeout=3600,
    )
    assert listing.status_code == 207, listing.status_code
    tree = ElementTree.fromstring(listing.content)  # noqa: S314 - the benchmark's own Radicale
    for response in tree.iter("{DAV:}response"):
        href = canonical(urljoin(collection, response.findtext("{DAV:}href")))
        etag = response.findtext(".//{DAV:}getetag")
        uid = unquote(href.rstrip("/").rsplit("/", 1)[-1]).removesuffix(".ics")
        fingerprint = status.pop(uid)
        record.items[uid] = status_row(ItemStatus(href, etag, fingerprint, fingerprint))
    assert not status, f"{len(status)} events not listed"
    record.sync_token = tree.findtext("{DAV:}sync-token")
    record.pending = None


def main(app) -> None:
    # The invitations are the set-up, not what is measured: not even queued (a queued one
    # wakes the delivery thread, whose retries then conflict with the next batch's commit).
    stop_all()
    getGlobalSiteManager().unregisterHandler(
        meeting_booked, required=(IVideoMeeting, IMeetingBookedEvent)
    )
    app = makerequest(app)
    users = app.acl_users
    newSecurityManager(None, users.getUserById("admin").__of__(users))
    site = app["Plone"]
    setSite(site)
    url = os.environ["BENCH_CALDAV_URL"]
    students = [o.UID() for o in site["elever"].objectValues() if o.portal_type == "Patient"]
    made = {}
    seeded = set(json.loads(os.environ.get("BENCH_SEEDED", "[]")))
    for userid, count in json.loads(os.environ["BENCH_CLINICIANS"]):
        if api.user.get(username=userid) is None:
            api.user.create(username=userid, password=PASSWORD, email=f"{userid}@example.se")
            api.group.add_user(groupname="vardpersonal", username=userid)
        accounts(site)[userid] = CalDAVAccountRecord(userid, url, userid, seal(site, PASSWORD))
        made[userid], booked = {}, []
        with api.env.adopt_user(username=userid):
            for i in range(count):
                start, end = slot(i)
                meeting = book_meeting(
                    Booking(
                        title=f"Samtal {i}",
                        start=start,
                        end=end,
                        patient_uid=students[i % len(students)],
                        contact_choice="student",
                    ),
                    organiser=userid,
                )
                made[userid][meeting.ical_uid] = "/".join(meeting.getPhysicalPath()[2:])
                if userid in seeded:
                    booked.append(meeting)
                if i % BATCH == BATCH - 1:
                    transaction.commit()
        if booked:
            seed_calendar(accounts(site)[userid], booked, Path(os.environ["BENCH_CALDAV_STORAGE"]))
        transaction.commit()
    with open(os.environ["BENCH_OUT"], "w", encoding="utf-8") as out:
        json.dump(made, out)


if __name__ == "__main__":
    main(app)  # noqa: F821 - ``app`` is provided by ``zconsole run``
    sys.exit(0)
