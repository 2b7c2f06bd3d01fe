"""The audit log over years: the view shows one page at a time, newest first, and the
retention rule is applied by the audit package's own timer, not by the mail thread."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.audit import retention
from prorenata.videomote.audit.log import make_entry
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.notify import delivery
from zope.event import notify
from zope.processlifetime import DatabaseOpenedWithRoot

import re
import time
import transaction


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)


def test_a_large_log_shows_one_page_newest_first_and_links_to_the_next(browser, functional):
    portal = functional["portal"]
    log = audit_log(portal)
    first = datetime.now(UTC) - timedelta(days=3)
    for number in range(130):
        log.append(
            make_entry(
                "viewed",
                actor=f"user{number:03}",
                role="staff",
                now=first + timedelta(minutes=number),
            )
        )
    transaction.commit()

    browser.open(f"{portal.absolute_url()}/@@videomote-granskningslogg")

    rows = _rows(browser.contents)
    assert len(rows) == 50
    assert "user129" in rows[0] and "user080" in rows[-1]  # newest first
    assert "user079" not in browser.contents
    next_link = browser.getLink(url="b_start:int=50")
    next_link.click()
    rows = _rows(browser.contents)
    assert len(rows) == 50
    assert "user079" in rows[0] and "user030" in rows[-1]
    # The CSV export is not paged: every entry the filters find.
    browser.open(f"{portal.absolute_url()}/@@videomote-granskningslogg?format=csv")
    assert browser.contents.count("user") == 130


def test_a_filtered_log_is_paged_too_and_keeps_its_filter(browser, functional):
    portal = functional["portal"]
    log = audit_log(portal)
    first = datetime.now(UTC) - timedelta(days=3)
    for number in range(120):
        meeting = "meeting-a" if number % 2 else "meeting-b"
        log.append(
            make_entry(
                "viewed",
                actor=f"user{number:03}",
                role="staff",
                meeting_uid=meeting,
                now=first + timedelta(minutes=number),
            )
        )
    transaction.commit()

    browser.open(f"{portal.absolute_url()}/@@videomote-granskningslogg?meeting=meeting-a")
    assert len(_rows(browser.contents)) == 50
    browser.getLink(url="b_start:int=50").click()
    assert "meeting=meeting-a" in browser.url
    rows = _rows(browser.contents)
    assert len(rows) == 10 and "user019" in rows[0] and "user001" in rows[-1]
    assert all("meeting-a" in row for row in rows)


def _actors(portal) -> list[str]:
    transaction.begin()  # see what the other threads committed
    return [entry.actor for entry in audit_log(portal).query()]


def test_entries_past_retention_are_purged_by_the_audit_timer_not_by_the_mail_thread(
    functional,
):
    portal = functional["portal"]
    log = audit_log(portal)
    log.append(
        make_entry(
            "booked",
            actor="six-years-ago",
            role="staff",
            now=datetime.now(UTC) - timedelta(days=6 * 365),
        )
    )
    log.append(
        make_entry(
            "booked", actor="yesterday", role="staff", now=datetime.now(UTC) - timedelta(days=1)
        )
    )
    transaction.commit()
    db = portal._p_jar.db()

    delivery.DeliveryWorker(db).deliver_once()  # a round of the mail thread
    assert _actors(portal) == ["six-years-ago", "yesterday"]  # it leaves the log alone

    try:
        notify(DatabaseOpenedWithRoot(db))  # as Zope starts: the audit timer starts
        timer = retention.timer_for(db)
        deadline = time.monotonic() + 10
        while timer.runs < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _actors(portal) == ["yesterday"]
        time.sleep(0.5)
        assert timer.runs == 1  # once at start; the next in a day
    finally:
        retention.stop_all()
        delivery.stop_all()
