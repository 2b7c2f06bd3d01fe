"""plone.app.event's "Upcoming Events" portlet, without its process-wide cache of objects.

Upstream keeps the events it found (accessors of the persistent objects, our meetings
included) in a RAM cache keyed on the upcoming events' UIDs and modification dates, and
hands them to later requests, in other threads and ZODB connections. Once the connection
they were loaded in is closed, an object there that became a ghost (changed in another
connection, such as a meeting ended, its invitation delivered or an SMS code sent, none of
which changes the modification date; or dropped by the connection's cache) cannot be
loaded again: ``ConnectionStateError``, and every page showed "Fel – Ett fel uppstod när
portleten skulle visas". Here each request finds its own events (the cache key cost a
catalog query of its own already).
"""

from plone.app.event.portlets import portlet_events
from plone.memoize.instance import memoize

#: The portlet's lookup as plone.app.event writes it, without its ``ram.cache`` wrapper.
_find_events = portlet_events.Renderer.events.fget.__wrapped__


class UpcomingEventsRenderer(portlet_events.Renderer):
    @property
    @memoize  # once per renderer, i.e. per request: ``available`` and the template ask
    def events(self):
        return _find_events(self)
