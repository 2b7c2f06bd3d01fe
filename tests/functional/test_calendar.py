"""The staff calendar shows every booked meeting: Monday to Sunday, whatever the hour."""

from datetime import date
from datetime import datetime
from datetime import timedelta
from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from lxml import html
from plone import api
from plone.app.testing import SITE_OWNER_NAME

import pytest
import requests
import transaction

# A week well ahead, so that nothing is in the past.
MONDAY = date.today() - timedelta(days=date.today().weekday()) + timedelta(weeks=3)


def _day(offset: int) -> date:
    return MONDAY + timedelta(days=offset)


@pytest.fixture
def calendar(mail_portal):
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    alva = add_student(folder)
    transaction.commit()

    def book(title: str, start: datetime, minutes: int = 30) -> None:
        from prorenata.videomote.content.scheduling import Booking
        from prorenata.videomote.content.scheduling import book_meeting

        with api.env.adopt_user(SITE_OWNER_NAME):
            book_meeting(
                Booking(
                    title=title,
                    start=start,
                    end=start + timedelta(minutes=minutes),
                    patient_uid=alva.UID(),
                    contact_choice="student",
                ),
                organiser="sara",
            )
        transaction.commit()

    return {"url": f"{mail_portal.absolute_url()}/@@videomote-kalender", "book": book}


def _grid(calendar, **params) -> dict:
    """The page's heading, day columns and, per row time, each column's meeting titles."""
    answer = requests.get(calendar["url"], params=params, auth=("sara", STAFF_PASSWORD))
    assert answer.status_code == 200
    page = html.fromstring(answer.text)
    table = page.cssselect("table.videomote-grid")[0]
    days = [th.text_content().strip() for th in table.cssselect("thead th")][1:]
    rows = {}
    for tr in table.cssselect("tbody tr"):
        rows[tr.cssselect("th")[0].text_content().strip()] = [
            [t.text_content().strip() for t in td.cssselect(".videomote-meeting .title")]
            for td in tr.cssselect("td")
        ]
    heading = page.cssselect(".videomote-calendar h2")[0].text_content().strip()
    return {"heading": heading, "days": days, "rows": rows}


def test_a_week_without_meetings_shows_monday_to_sunday_from_seven_to_six(calendar):
    grid = _grid(calendar, view="week", day=_day(2).isoformat())
    assert [d.split()[0] for d in grid["days"]] == [
        "Måndag",
        "Tisdag",
        "Onsdag",
        "Torsdag",
        "Fredag",
        "Lördag",
        "Söndag",
    ]
    assert list(grid["rows"])[0] == "07.00" and list(grid["rows"])[-1] == "17.30"
    assert len(grid["rows"]) == 22


def test_the_week_shows_weekend_early_and_late_meetings_where_they_start(calendar):
    book = calendar["book"]
    book("Tidigt samtal", datetime.combine(_day(2), datetime.min.time()).replace(hour=6, minute=59))
    book("Kvällssamtal", datetime.combine(_day(3), datetime.min.time()).replace(hour=20, minute=15))
    book("Lördagssamtal", datetime.combine(_day(5), datetime.min.time()).replace(hour=10))
    book("Söndagssamtal", datetime.combine(_day(6), datetime.min.time()).replace(hour=11))
    grid = _grid(calendar, view="week", day=_day(6).isoformat())
    week = MONDAY.isocalendar()[1]
    assert grid["heading"] == f"Vecka {week}, {MONDAY} – {_day(6)}"
    rows = grid["rows"]
    assert list(rows)[0] == "06.00" and list(rows)[-1] == "20.30"
    assert rows["06.30"][2] == ["Tidigt samtal"]  # Wednesday
    assert rows["20.00"][3] == ["Kvällssamtal"]  # Thursday
    assert rows["10.00"][5] == ["Lördagssamtal"]
    assert rows["11.00"][6] == ["Söndagssamtal"]
    shown = [title for row in rows.values() for cell in row for title in cell]
    assert sorted(shown) == ["Kvällssamtal", "Lördagssamtal", "Söndagssamtal", "Tidigt samtal"]


def test_the_day_view_shows_a_meeting_before_seven(calendar):
    calendar["book"](
        "Tidigt samtal", datetime.combine(_day(2), datetime.min.time()).replace(hour=6, minute=59)
    )
    rows = _grid(calendar, view="day", day=_day(2).isoformat())["rows"]
    assert list(rows)[0] == "06.00" and list(rows)[-1] == "17.30"
    assert rows["06.30"] == [["Tidigt samtal"]]


def test_a_meeting_over_midnight_shows_on_both_days(calendar):
    calendar["book"](
        "Över midnatt",
        datetime.combine(_day(4), datetime.min.time()).replace(hour=23, minute=45),
        minutes=30,
    )
    rows = _grid(calendar, view="week", day=_day(4).isoformat())["rows"]
    assert list(rows)[0] == "00.00" and list(rows)[-1] == "23.30"
    assert rows["23.30"][4] == ["Över midnatt"]  # Friday, where it starts
    assert rows["00.00"][5] == ["Över midnatt"]  # and Saturday, which it runs into


def test_today_on_a_sunday_is_the_week_that_ends_that_day(calendar, monkeypatch):
    from prorenata.videomote.browser import meetings

    calendar["book"](
        "Söndagssamtal", datetime.combine(_day(6), datetime.min.time()).replace(hour=9)
    )
    monkeypatch.setattr(meetings, "today", lambda: _day(6))
    grid = _grid(calendar, view="week")  # "Idag"
    assert grid["heading"].endswith(f"{MONDAY} – {_day(6)}")
    assert grid["rows"]["09.00"][6] == ["Söndagssamtal"]


@pytest.mark.parametrize("hour, minute", [(7, 0), (10, 40), (17, 29)])
def test_the_grids_tab_stop_starts_on_todays_next_free_time(calendar, monkeypatch, hour, minute):
    """The free slots are one tab stop (videomote.js): this week it starts at the half
    hour now running today, or the next free one; another week at the first slot. The
    calendar's clock is set to today's grid hours (07.00–18.00), whenever the test runs."""
    from prorenata.videomote.browser import meetings
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Europe/Stockholm")).replace(hour=hour, minute=minute)
    monkeypatch.setattr(meetings, "now", lambda: now)
    answer = requests.get(calendar["url"], params={"view": "week"}, auth=("sara", STAFF_PASSWORD))
    entries = html.fromstring(answer.text).cssselect("a.videomote-slot[data-entry]")
    assert len(entries) == 1
    label = entries[0].get("aria-label")
    day_label, time_label = label.rsplit(" ", 1)
    assert day_label.endswith(f" {now.day}/{now.month}")
    slot = (now.hour * 60 + now.minute) // 30 * 30
    assert time_label >= f"{slot // 60:02d}.{slot % 60:02d}"
    other = requests.get(
        calendar["url"],
        params={"view": "week", "day": _day(0).isoformat()},
        auth=("sara", STAFF_PASSWORD),
    )
    assert html.fromstring(other.text).cssselect("a.videomote-slot[data-entry]") == []


def test_a_bookmarked_calendar_link_with_the_old_swedish_parameters_still_opens_that_day(calendar):
    """Links in bookmarks and e-mails from before the query keys became English
    (``?vy=dag&dag=…``) open the same view; the English names win when both are given."""
    calendar["book"]("Gammal länk", datetime.combine(_day(3), datetime.min.time()).replace(hour=9))
    old = _grid(calendar, vy="dag", dag=_day(3).isoformat())
    assert old["heading"].endswith(_day(3).isoformat())
    assert old["rows"]["09.00"] == [["Gammal länk"]]
    assert old == _grid(calendar, view="day", day=_day(3).isoformat())
    week = _grid(calendar, vy="vecka", dag=_day(3).isoformat())
    assert week["heading"].endswith(f"{MONDAY} – {_day(6)}")
    both = _grid(calendar, view="week", vy="dag", day=_day(3).isoformat(), dag=_day(0).isoformat())
    assert both == week


def test_the_calendar_links_carry_the_english_query_keys(calendar):
    answer = requests.get(
        calendar["url"],
        params={"view": "day", "day": _day(2).isoformat()},
        auth=("sara", STAFF_PASSWORD),
    )
    page = html.fromstring(answer.text)
    links = [a.get("href") for a in page.cssselect(".videomote-calendar-nav a")]
    assert f"{calendar['url']}?view=day&day={_day(3).isoformat()}" in links  # "Nästa"
    assert f"{calendar['url']}?view=week&day={_day(2).isoformat()}" in links  # "Vecka"
    assert not [link for link in links if "vy=" in link or "dag=" in link]
    names = {i.get("name") for i in page.cssselect("form.videomote-datepicker input")}
    assert {"view", "day"} <= names and not {"vy", "dag"} & names


@pytest.mark.parametrize(
    "form, name, expected",
    [
        ({"view": "day", "vy": "vecka"}, "view", "day"),  # the English name wins
        ({"vy": "dag"}, "view", "day"),
        ({"vy": "vecka"}, "view", "week"),
        ({"vy": "month"}, "view", "month"),  # unknown values are passed on as they are
        ({"dag": "2026-12-01"}, "day", "2026-12-01"),
        ({"bokad": "abc"}, "booked", "abc"),
        ({"dag": ["a", "b"]}, "day", ["a", "b"]),  # not text: the caller refuses it
        ({}, "day", None),
        ({"kod": "AAAA"}, "code", None),  # POSTed keys have no Swedish fallback
    ],
)
def test_query_value_falls_back_to_the_old_swedish_name_only_when_the_english_one_is_missing(
    form, name, expected
):
    from prorenata.videomote.request_input import query_value

    assert query_value(form, name) == expected
