"""The "Upcoming Events" portlet (plone.app.event) beside the journal's meetings.

Every page (meeting, room, calendar, outbox, home) has it in the right column. Upstream it
keeps the events it found, persistent meetings included, in a process-wide RAM cache and
hands them to the next request, in whatever thread and ZODB connection that runs: once
the connection they were loaded in is closed, a meeting that was turned into a ghost (a
change elsewhere, such as ending it, or the connection's cache making room) cannot be
loaded again: ``ConnectionStateError``, and the page shows "Fel – Ett fel uppstod när
portleten skulle visas".
"""

from contextlib import contextmanager
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book

import transaction

STAFF = "sara"


@contextmanager
def request_in_its_own_connection(db):
    """A Zope request the way the server runs one: its own ZODB connection and
    transaction, the site set, the browser layers applied and the staff member logged in.
    Yields the portal and the request; closes the connection afterwards."""
    from AccessControl.SecurityManagement import newSecurityManager
    from AccessControl.SecurityManagement import noSecurityManager
    from Testing.makerequest import makerequest
    from zope.component.hooks import getSite
    from zope.component.hooks import setSite
    from zope.event import notify
    from zope.traversing.interfaces import BeforeTraverseEvent

    manager = transaction.TransactionManager()
    connection = db.open(transaction_manager=manager)
    before = getSite()
    try:
        app = makerequest(connection.root()["Application"])
        portal = app["plone"]
        request = app.REQUEST
        setSite(portal)
        notify(BeforeTraverseEvent(portal, request))  # the add-on's browser layer
        users = portal.acl_users
        newSecurityManager(request, users.getUser(STAFF).__of__(users))
        yield portal, request, connection
        manager.commit()
    finally:
        noSecurityManager()
        setSite(before)
        connection.close()


def right_column(portal, request) -> str:
    """The right column as a page renders it (the portlets' own error handling included)."""
    from plone.portlets.interfaces import IPortletManager
    from plone.portlets.interfaces import IPortletManagerRenderer
    from zope.component import getMultiAdapter
    from zope.component import getUtility

    view = portal.restrictedTraverse("@@view")
    manager = getUtility(IPortletManager, name="plone.rightcolumn", context=portal)
    renderer = getMultiAdapter((portal, request, view, manager), IPortletManagerRenderer)
    renderer.update()
    return renderer.render()


def test_upcoming_events_render_in_a_request_after_the_first_ones_connection_closed(
    functional, caplog
):
    from plone.memoize.ram import global_cache

    portal = functional["portal"]
    folder = add_students_folder(portal)
    add_staff(STAFF, "Sara Skolsköterska", access_to=folder)
    book(add_student(folder), 60, "guardian", "Uppföljande samtal", organiser=STAFF)
    transaction.commit()
    global_cache.invalidateAll()
    db = portal._p_jar.db()

    with request_in_its_own_connection(db) as (first_portal, request, first):
        assert "Uppföljande samtal" in right_column(first_portal, request)
        # The connection's cache makes room (as it does on a busy server): what was
        # loaded in it becomes a ghost, to be loaded again through it.
        first.cacheMinimize()
        with request_in_its_own_connection(db) as (second_portal, second_request, _):
            pass  # a second connection exists, the next request may get either
    # The first request is over: its connection is closed. The next request runs in the
    # other connection.
    with request_in_its_own_connection(db) as (next_portal, next_request, connection):
        assert connection is not first
        column = right_column(next_portal, next_request)
    assert "Ett fel uppstod" not in column
    assert "Uppföljande samtal" in column
    assert "ConnectionStateError" not in caplog.text
