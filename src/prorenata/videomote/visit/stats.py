"""The numbers behind "Videomöten – statistik": one row per ended meeting, kept on the
site by month, clinician and meeting (an OOBTree: a month is one key range, and two
meetings ending at once write different keys). No names, no record: the outcome, the
actual length in seconds and the reconnects. Deleting a meeting does not change the
statistics of a month gone by."""

from BTrees.OOBTree import OOBTree
from dataclasses import dataclass
from plone import api
from prorenata.videomote.storage import annotated
from prorenata.videomote.timezone import configured_zone
from prorenata.videomote.timezone import zone as tzinfo_of
from prorenata.videomote.visit.attendance import COMPLETED
from prorenata.videomote.visit.attendance import INTERRUPTED
from prorenata.videomote.visit.attendance import NO_SHOW

ANNOTATION_KEY = "prorenata.videomote.visit_stats"


def _rows(create: bool = True):
    return annotated(api.portal.get(), ANNOTATION_KEY, OOBTree, create)


def month_of(meeting) -> str:
    """The month the meeting was booked for, in the site's zone (``2026-12``)."""
    return f"{meeting.start.astimezone(tzinfo_of(configured_zone())):%Y-%m}"


def count(meeting, facts: dict) -> None:
    start, end = facts["actual_start"], facts["actual_end"]
    seconds = int((end - start).total_seconds()) if start and end else 0
    value = (facts["outcome"] or "", seconds, facts["reconnects"])
    key = (month_of(meeting), meeting.organiser or "", meeting.UID())
    rows = _rows()
    if rows.get(key) != value:
        rows[key] = value


@dataclass
class Line:
    month: str
    clinician: str
    held: int = 0
    no_shows: int = 0
    interrupted: int = 0
    seconds: int = 0
    reconnects: int = 0

    @property
    def average_minutes(self) -> float | None:
        """Average actual length of the meetings held (Genomfört)."""
        return round(self.seconds / self.held / 60, 1) if self.held else None


def lines(first_month: str, last_month: str) -> list[Line]:
    """Per month and clinician, ``first_month`` to ``last_month`` (``YYYY-MM``)."""
    rows = _rows(create=False)
    if rows is None:
        return []
    found: dict[tuple, Line] = {}
    for (month, clinician, _uid), (outcome, seconds, reconnects) in rows.items(
        min=(first_month,), max=(last_month, "\uffff")
    ):
        line = found.setdefault((month, clinician), Line(month, clinician))
        if outcome == COMPLETED:
            line.held += 1
            line.seconds += seconds
        elif outcome == NO_SHOW:
            line.no_shows += 1
        elif outcome == INTERRUPTED:
            line.interrupted += 1
        line.reconnects += reconnects
    return [found[key] for key in sorted(found)]
