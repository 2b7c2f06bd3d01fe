"""WSGI filter: answers do not say which software, in which version, serves them.

Zope 6 writes ``X-Powered-By: Zope (www.zope.dev), Python (www.python.org)`` into every
answer (``ZPublisher.HTTPResponse.listHeaders``) and has no setting to turn it off (the
old ``enable-xpoweredby`` directive belonged to ZServer). This filter sits in the
instance's pipeline (``etc/zope.ini.in``: ``use = call:prorenata.videomote.wsgi:
filter_factory``), so it covers every answer: pages, REST, static files, error pages.
No Zope imports: it runs outside the publisher.
"""

from collections.abc import Callable
from collections.abc import Iterable

#: Header names (lower case) that only advertise the software.
REVEALING = frozenset({"x-powered-by"})


def without_revealing_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if name.lower() not in REVEALING]


def strip_revealing_headers(app: Callable) -> Callable:
    """``app`` whose answers carry no X-Powered-By header."""

    def filtered(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, without_revealing_headers(headers), exc_info)

        return app(environ, start)

    return filtered


def filter_factory(global_conf: dict, **local_conf) -> Callable:
    """PasteDeploy's ``paste.filter_factory`` protocol."""
    return strip_revealing_headers
