"""Every HTTP request a test makes with ``requests`` ends within a bound.

``requests`` waits for ever by default: a server that accepts a connection and never
answers would hang the whole run. Installed for the session by ``conftest.py``; a call
that passes its own ``timeout`` keeps it.
"""

import requests

#: Seconds a request may take (connect, then each read) when the call names no timeout.
DEFAULT_SECONDS = 120.0
#: Where ``timeout`` sits among ``Session.request``'s positional parameters after method and url.
_TIMEOUT_POSITION = 6


def install(monkeypatch) -> None:
    """Give every ``requests`` call (module functions and sessions alike) a timeout."""
    original = requests.Session.request

    def request(self, method, url, *args, **kwargs):
        if "timeout" not in kwargs and len(args) <= _TIMEOUT_POSITION:
            kwargs["timeout"] = DEFAULT_SECONDS
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
