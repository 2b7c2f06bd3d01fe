"""Clinicians with connected calendars and booked meetings, for ``caldav_sync.py``.

Run by ``zconsole run <zope.conf> benchmarks/support/caldav_accounts.py`` on the demo site,
before the server starts. ``BENCH_CALDAV_URL`` is the Radicale, ``BENCH_CLINICIANS`` a JSON
list of [user id, number of meetings]; ``BENCH_OUT`` receives a JSON object: user id ->
{ical uid: meeting path}. The invitations of these bookings are dropped, not sent: they
are the set-up, not what is measured.
"""

from AccessControl.SecurityManagement import newSecurityManager
from datetime import datetime
from datetime import timedelta
from plone import api
from prorenata.videomote.access.keys import seal
from prorenata.videomote.caldav_bridge.accounts import CalDAVAccountRecord
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.notify.outbox import ANNOTATION_KEY as OUTBOX
from Testing.makerequest import makerequest
from zope.annotation.interfaces import IAnnotations
from zope.component.hooks import setSite

import json
import os
import sys
import transaction

PASSWORD = "bench-password"
#: Bookings per day and the first day: 30-minute slots from 07:00, from tomorrow on.
PER_DAY = 16


def slot(i: int) -> tuple[datetime, datetime]:
    day = datetime.now().replace(hour=7, minute=0, second=0, microsecond=0)
    start = day + timedelta(days=1 + i // PER_DAY, minutes=30 * (i % PER_DAY))
    return start, start + timedelta(minutes=30)


def main(app) -> None:
    app = makerequest(app)
    users = app.acl_users
    newSecurityManager(None, users.getUserById("admin").__of__(users))
    site = app["Plone"]
    setSite(site)
    url = os.environ["BENCH_CALDAV_URL"]
    students = [o.UID() for o in site["elever"].objectValues() if o.portal_type == "Patient"]
    made = {}
    for userid, count in json.loads(os.environ["BENCH_CLINICIANS"]):
        if api.user.get(username=userid) is None:
            api.user.create(username=userid, password=PASSWORD, email=f"{userid}@example.se")
            api.group.add_user(groupname="vardpersonal", username=userid)
        accounts(site)[userid] = CalDAVAccountRecord(userid, url, userid, seal(site, PASSWORD))
        made[userid] = {}
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
                if i % 500 == 499:
                    IAnnotations(site).pop(OUTBOX, None)
                    transaction.commit()
        IAnnotations(site).pop(OUTBOX, None)
        transaction.commit()
    with open(os.environ["BENCH_OUT"], "w", encoding="utf-8") as out:
        json.dump(made, out)


if __name__ == "__main__":
    main(app)  # noqa: F821 - ``app`` is provided by ``zconsole run``
    sys.exit(0)
