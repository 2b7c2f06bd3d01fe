"""Journal content for the tests: staff members, a students' folder, student records."""

from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.dexterity.utils import createContentInContainer

STAFF_PASSWORD = "secret-pw-1"
ANNA = {
    "name": "Anna Andersson",
    "email": "anna@example.se",
    "mobile": "+46701234502",
    "primary": True,
}
ALVA = {
    "title": "Alva Andersson",
    "contact_email": "alva@example.se",
    "contact_mobile": "+46701234501",
    "guardians": [ANNA],
}


def add_staff(
    userid: str,
    fullname: str | None = None,
    access_to=None,
    roles=("Reader", "Contributor", "Editor"),
) -> None:
    """A staff member ("Clinician"), with local roles on ``access_to`` if given."""
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.create(
            username=userid,
            email=f"{userid}@example.se",
            password=STAFF_PASSWORD,
            roles=["Member", "Clinician"],
            properties={"fullname": fullname or userid.title()},
        )
        if access_to is not None:
            api.user.grant_roles(username=userid, obj=access_to, roles=list(roles))


def add_students_folder(portal):
    with api.env.adopt_user(SITE_OWNER_NAME):
        return api.content.create(container=portal, type="Folder", id="elever", title="Elever")


def add_student(container, **fields):
    """A student/patient record; ``fields`` default to Alva with guardian Anna."""
    with api.env.adopt_user(SITE_OWNER_NAME):
        return createContentInContainer(container, "Patient", **{**ALVA, **fields})


def book(
    patient,
    minutes_from_now: int = 10,
    choice: str = "student",
    title: str = "Samtal",
    organiser: str = SITE_OWNER_NAME,
):
    """A 30-minute meeting for ``patient``, starting ``minutes_from_now`` (Stockholm time),
    booked through the same path as the dialog and committed."""
    from datetime import datetime
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    start = datetime.now(ZoneInfo("Europe/Stockholm")).replace(tzinfo=None)
    start += timedelta(minutes=minutes_from_now)
    return book_at(patient, start, title, choice, organiser, booked_by=SITE_OWNER_NAME)


def add_journal_record(container, type_id: str, klass: str, title: str, **fields):
    """A record of a journal's own type: ``klass`` with the contact details behaviour
    (what a journal enables instead of our Patient type), and one object of it."""
    from plone.dexterity.fti import DexterityFTI

    portal = api.portal.get()
    if type_id not in portal.portal_types:
        fti = DexterityFTI(type_id)
        fti.klass = klass
        fti.behaviors = ("plone.basic", "prorenata.videomote.contact_details")
        fti.global_allow = True
        fti.filter_content_types = True
        fti.allowed_content_types = ()
        portal.portal_types._setObject(type_id, fti)
    with api.env.adopt_user(SITE_OWNER_NAME):
        return api.content.create(container=container, type=type_id, title=title, **fields)


def start_room(staff, meeting):
    """Staff open the room and press "Starta mötet" (a POST with the CSRF token, as the
    page's script does): ``staff`` is a signed-in ``requests.Session``, ``meeting`` the
    meeting or its address. Returns the started room's response."""
    import re

    url = meeting if isinstance(meeting, str) else meeting.absolute_url()
    room = f"{url}/@@videomote-rum"
    page = staff.get(room).text
    authenticator = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', page).group(1)
    started = staff.post(room, data={"start_meeting": "1", "_authenticator": authenticator})
    started.raise_for_status()
    return started


def session_as(user: str = "sara", json: bool = False, password: str = STAFF_PASSWORD):
    """A ``requests.Session`` signed in (basic auth) as a staff member made by add_staff;
    ``json`` asks for plone.restapi's answers."""
    import requests

    session = requests.Session()
    session.auth = (user, password)
    if json:
        session.headers["Accept"] = "application/json"
    return session


def booking_json(patient_uid: str, day: str, **changes) -> dict:
    """The body of ``POST @videomote-meetings``: a half-hour at 09:00 on ``day``."""
    data = {
        "title": "Uppföljande samtal",
        "start": f"{day}T09:00",
        "end": f"{day}T09:30",
        "patient": patient_uid,
        "contact_choice": "student",
    }
    data.update(changes)
    return data


def book_at(
    patient,
    start,
    title: str = "Samtal",
    choice: str = "guardian",
    organiser: str = "sara",
    extra_participants=(),
    booked_by: str | None = None,
):
    """A 30-minute meeting for ``patient`` at ``start`` (naive, Stockholm time), booked
    by ``organiser`` themself (staff made by add_staff) unless ``booked_by`` says who,
    with ``extra_participants`` (an interpreter, say) as the booking dialog adds them;
    committed."""
    from datetime import timedelta
    from prorenata.videomote.content.scheduling import Booking
    from prorenata.videomote.content.scheduling import book_meeting

    import transaction

    with api.env.adopt_user(username=booked_by or organiser):
        meeting = book_meeting(
            Booking(
                title=title,
                start=start,
                end=start + timedelta(minutes=30),
                patient_uid=patient.UID(),
                contact_choice=choice,
                extra_participants=list(extra_participants) or None,
            ),
            organiser=organiser,
        )
    transaction.commit()
    return meeting


def calendar_journal(portal, caldav_url: str) -> dict:
    """A students' folder with Alva, and the clinician Sara, whose calendar account
    (app password "tok") is on the CalDAV server at ``caldav_url``; committed."""
    from prorenata.videomote.access.keys import seal
    from prorenata.videomote.caldav_bridge.accounts import CalDAVAccountRecord
    from prorenata.videomote.caldav_bridge.accounts import accounts
    from prorenata.videomote.caldav_bridge.client import CalendarAccount

    import transaction

    folder = add_students_folder(portal)
    add_staff("sara", access_to=folder)
    alva = add_student(folder)
    accounts(portal)["sara"] = CalDAVAccountRecord("sara", caldav_url, "sara", seal(portal, "tok"))
    transaction.commit()
    return {"portal": portal, "alva": alva, "calendar": CalendarAccount(caldav_url, "sara", "tok")}


def caldav_sync(portal, secret: str, only: str | None = None) -> dict:
    """One round of the CalDAV worker (``@@videomote-caldav-sync`` with its secret), as
    the worker process calls it (``only="changes"``: its incremental round every few
    seconds; else the full one); its answer, with a fresh transaction to read the result."""
    import requests
    import transaction

    response = requests.post(
        f"{portal.absolute_url()}/@@videomote-caldav-sync",
        headers={"X-Videomote-Worker": secret},
        params={"only": only} if only else {},
    )
    assert response.status_code == 200, response.text
    transaction.begin()
    return response.json()


def staff_clock_at(monkeypatch, moment) -> None:
    """The staff pages' clock (the calendar's "Idag" and first free slot, "Dagens
    aktiviteter") at ``moment`` (naive: Stockholm wall time), so that a test of "today"
    runs the same at any hour of the day, midnight included."""
    from prorenata.videomote.browser import meetings
    from zoneinfo import ZoneInfo

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Europe/Stockholm"))
    monkeypatch.setattr(meetings, "now", lambda: moment)


def tomorrow_at(hour: int, minute: int = 0):
    """Tomorrow at ``hour``.``minute``, Stockholm wall time (naive, as bookings give it)."""
    from datetime import datetime
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    tomorrow = datetime.now(ZoneInfo("Europe/Stockholm")).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, minute)
