"""What a request brings, read in one place for every service and form of the add-on.

A JSON body is refused before it is parsed when it is too large (on CONTENT_LENGTH and
on what is actually read), when a state-changing call does not say it is
``application/json`` (a cross-site page can post ``text/plain`` with the user's cookies
without asking the browser first), when it is no JSON object, nested too deep, or not
UTF-8. A state-changing call from a page of another site (its ``Origin``) is refused
unless it carries a token of its own (``Authorization: Bearer``), which a browser never
adds by itself. Form and query values must be one piece of text of bounded length, not
a list or a record (``start:list=…``, ``start:int=5``). Every refusal is an
:class:`InputRefused` with a Swedish message naming the field, answered as 4xx.

What would fail before any view of the add-on runs (Zope's form converters,
plone.restapi's credential plugin parsing every JSON body) is screened for the add-on's
paths at the start of publishing (:func:`screen_input`).
"""

from collections.abc import Mapping
from plone import api
from prorenata.videomote import _
from prorenata.videomote.booking.rules import MAX_BODY_BYTES
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.booking.rules import too_long_message
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from zExceptions import BadRequest
from zope.i18n import translate
from ZPublisher.HTTPRequest import HTTPRequest
from ZPublisher.HTTPResponse import HTTPResponse

import contextlib
import io
import json

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Where :func:`screen_input` leaves its refusal (kept across conflict retries).
EARLY_REFUSAL = "prorenata.videomote.refused_body"
#: The participant pages under ``<site>/videomote/``.
PARTICIPANT_STEPS = frozenset(
    {"", "logga-in", "vantrum", "status", "rum", "rum-token", "lamna", "videomote"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class InputRefused(ValueError):
    """A request the add-on does not read: ``status`` (4xx), ``field``, Swedish ``message``."""

    def __init__(self, message, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` as browsers send it in ``Origin`` ("" if none)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def own_origins(request) -> set[str]:
    """The site as it is reached (the portal URL, the request's own server URL) and as
    participants see it (the configured public base URL)."""
    urls = [request.get("SERVER_URL", ""), api.portal.get().absolute_url()]
    public = api.portal.get_registry_record("prorenata.videomote.public_base_url", default=None)
    if public:
        urls.append(public)
    return {origin for origin in map(origin_of, urls) if origin}


def check_origin(request) -> None:
    """Refuse a state-changing call made by a page of another site with the user's
    ambient credentials (cookie, or HTTP authentication the browser remembers)."""
    if request.get("REQUEST_METHOD", "GET").upper() not in STATE_CHANGING:
        return
    origin = request.getHeader("Origin")
    if not origin:
        return  # not sent by a browser's cross-site request (curl, the worker, a script)
    if (request.getHeader("Authorization") or "").lower().startswith("bearer "):
        return  # a token the calling page added itself: nothing ambient is used
    if origin.strip().lower() == "null" or origin_of(origin) not in own_origins(request):
        raise InputRefused(
            _("Anrop från en annan webbplats tas inte emot."), field="Origin", status=403
        )


def _content_type(request) -> str:
    value = request.environ.get("CONTENT_TYPE") or ""
    return value.split(";", 1)[0].strip().lower()


def _declared_length(request) -> int:
    try:
        return int(request.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return 0


def _too_large() -> InputRefused:
    return InputRefused(
        _(
            "Anropet är för stort (högst ${kb} kB).",
            mapping={"kb": MAX_BODY_BYTES // 1024},
        ),
        field="body",
        status=413,
    )


def raw_body(request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, at most ``limit`` bytes: a larger one is refused before anything
    but ``limit + 1`` bytes of it is read."""
    if _declared_length(request) > limit:
        raise _too_large()
    body = request.get("BODYFILE")
    if body is None:
        return b""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        body.seek(0)  # read from the start whoever read it before
    data = body.read(limit + 1)
    if len(data) > limit:
        raise _too_large()
    return data if isinstance(data, bytes) else data.encode("utf-8")


def _is_ours(path: str) -> bool:
    """A service or page of the add-on: ``@videomote-…``/``@@videomote-…`` last, or a
    participant page (``…/videomote[/step]``)."""
    segments = path.rstrip("/").split("/")
    if segments[-1].lstrip("@").startswith("videomote-"):
        return True
    return segments[-1] == "videomote" or (
        len(segments) > 1 and segments[-2] == "videomote" and segments[-1] in PARTICIPANT_STEPS
    )


def screen_input(event) -> None:
    """At the start of publishing (IPubStart), before Zope reads the form and before
    authentication, for the add-on's services and pages only:

    - a JSON body that is too large or nested too deep is set aside and replaced by an
      empty one: plone.restapi's token plugin parses every ``application/json`` body
      while it looks for credentials, before any view runs, so a 50,000-deep array would
      end there in a RecursionError (500), and a large body would be parsed whole;
    - form fields that Zope's own converters fail on (``start:int=abc``, ``x:date=…``,
      an unknown charset) are dropped, since Zope would answer them with a 500 before
      any view runs.

    The refusal is kept (across conflict retries) for the REST services to answer as
    4xx; the pages simply do not see the field."""
    request = event.request
    if not _is_ours(request.environ.get("PATH_INFO") or ""):
        return
    environ = _environ(request)
    if environ.get(EARLY_REFUSAL) is not None:
        _drop_body(request)
        _drop_converted_fields(request)
        return
    method = request.environ.get("REQUEST_METHOD", "GET").upper()
    if method in STATE_CHANGING and _content_type(request) == "application/json":
        _screen_json(request, environ)
    _screen_form(request, environ)


def _environ(request) -> dict:
    return getattr(request, "_orig_env", None) or request.environ


def _drop_body(request) -> None:
    request.environ["CONTENT_LENGTH"] = "0"
    request.stdin = io.BytesIO(b"")


def _screen_json(request, environ) -> None:
    stdin = request.stdin
    data = b""
    refusal = None
    if _declared_length(request) > MAX_BODY_BYTES:
        refusal = _too_large()
    elif stdin is not None:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stdin.seek(0)
        data = stdin.read(MAX_BODY_BYTES + 1)
        if len(data) > MAX_BODY_BYTES:
            refusal = _too_large()
        else:
            try:
                json.loads(data)
            except RecursionError:
                refusal = _too_deep()
            except ValueError:
                pass  # the service says what is wrong with it
    if refusal is not None:
        environ[EARLY_REFUSAL] = refusal
        _drop_body(request)
    else:
        request.stdin = io.BytesIO(data)


#: Zope's form limit: a larger form body is refused by Zope itself (400).
FORM_LIMIT = 2**20


def _screen_form(request, environ) -> None:
    """Let Zope read a copy of the query string and form first; if that fails other than
    with a BadRequest (400 anyway), drop every field with a ``:converter``."""
    is_form = _content_type(request) in ("", "application/x-www-form-urlencoded")
    method = request.environ.get("REQUEST_METHOD", "GET").upper()
    body = b""
    length = _declared_length(request)
    if method != "GET" and _content_type(request) != "application/json" and length:
        if length > FORM_LIMIT or request.stdin is None:
            return  # Zope refuses a form that large itself
        with contextlib.suppress(AttributeError, OSError, ValueError):
            request.stdin.seek(0)
        body = request.stdin.read(length)
        request.stdin = io.BytesIO(body)
    trial = HTTPRequest(io.BytesIO(body), dict(request.environ), HTTPResponse())
    try:
        trial.processInputs()
    except BadRequest:
        if _declared_length(request) > FORM_LIMIT:
            return  # Zope says so itself
        field = _first_converted_field(request.environ.get("QUERY_STRING", ""), body, is_form)
        environ[EARLY_REFUSAL] = InputRefused(
            _("Anropet kan inte läsas. Skicka fältnamn och värden i UTF-8."), field=field
        )
        _drop_converted_fields(request)
    except Exception:
        field = _first_converted_field(request.environ.get("QUERY_STRING", ""), body, is_form)
        environ[EARLY_REFUSAL] = InputRefused(
            _("Fältet ${field} kan inte läsas. Skicka det som text.", mapping={"field": field}),
            field=field,
        )
        _drop_converted_fields(request)
    finally:
        trial.clear()


def _without_converted(query: str) -> str:
    kept = [
        (name, value)
        for name, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1")
        if ":" not in name and _utf8(name)
    ]
    return urlencode(kept, encoding="latin-1")


def _utf8(name: str) -> bool:
    try:
        name.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return False
    return True


def _first_converted_field(query: str, body: bytes, is_form: bool) -> str:
    texts = [query] + ([body.decode("latin-1")] if is_form else [])
    for text in texts:
        for name, _value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
            if ":" in name or not _utf8(name):
                return name.split(":", 1)[0].split(".", 1)[0][:MAX_TOKEN]
    return "form"


def _drop_converted_fields(request) -> None:
    """The query string and an urlencoded form without ``name:converter`` fields and
    names that are not UTF-8; any other form body (multipart: none of the add-on's forms
    uploads files) is dropped."""
    request.environ["QUERY_STRING"] = _without_converted(request.environ.get("QUERY_STRING", ""))
    if request.environ.get("REQUEST_METHOD", "GET").upper() == "GET":
        return
    content_type = _content_type(request)
    if content_type == "application/json":
        return
    if content_type in ("", "application/x-www-form-urlencoded"):
        body = b""
        if request.stdin is not None:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                request.stdin.seek(0)
            body = request.stdin.read(FORM_LIMIT + 1)
        cleaned = _without_converted(body.decode("latin-1")).encode("latin-1")
        request.stdin = io.BytesIO(cleaned)
        request.environ["CONTENT_LENGTH"] = str(len(cleaned))
    else:
        _drop_body(request)


def early_refusal(request) -> "InputRefused | None":
    """What :func:`screen_input` refused of this request, if anything."""
    return _environ(request).get(EARLY_REFUSAL)


def _too_deep() -> InputRefused:
    return InputRefused(_("Anropets JSON är för djupt nästlad."), field="body")


def json_object(request) -> dict:
    """The body of a state-changing call as a JSON object (an empty body is ``{}``).

    Checked in this order: the caller's Origin, the size, the media type, UTF-8, JSON,
    nesting (a RecursionError), and that the top level is an object."""
    check_origin(request)
    data = raw_body(request)
    if _content_type(request) != "application/json" and (
        data.strip() or request.get("REQUEST_METHOD", "GET").upper() in ("POST", "PATCH", "PUT")
    ):
        raise InputRefused(
            _("Skicka anropet som JSON (Content-Type: application/json)."),
            field="Content-Type",
            status=415,
        )
    if not data.strip():
        return {}
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputRefused(_("Skicka anropet som JSON i UTF-8."), field="body") from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise InputRefused(_("Anropet är inte giltig JSON."), field="body") from None
    if not isinstance(value, dict):
        raise InputRefused(
            _('Skicka ett JSON-objekt, t.ex. {"title": "…"}.'),
            field="body",
        )
    return value


def form_text(request, name: str, limit: int = MAX_TOKEN, label=None, default: str = "") -> str:
    """One form or query value as text of at most ``limit`` characters.

    Zope turns ``name:list``, ``name:int``, ``name:record`` or a repeated name into lists,
    numbers and records, and a file upload into a FileUpload: none is text, so each is
    refused naming the field, as is text that is too long."""
    value = request.form.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InputRefused(
            _("Ange ${field} en gång, som text.", mapping={"field": label or name}),
            field=name,
        )
    if len(value) > limit:
        raise InputRefused(too_long_message(label or name, limit), field=name)
    return value


#: Query parameters that had Swedish names before the form keys became English (new
#: name: old name). Links in e-mails and bookmarks may still carry the old one.
LEGACY_QUERY_NAMES = {"day": "dag", "view": "vy", "booked": "bokad"}
#: Values of those old parameters that were Swedish words too (old name: old: new).
LEGACY_QUERY_VALUES = {"vy": {"dag": "day", "vecka": "week"}}


def query_value(form: Mapping, name: str):
    """The query value ``name``; only when it is missing, the value under its old Swedish
    name (``?vy=dag&dag=2026-12-01`` from a bookmark), its Swedish values put into
    English. The English name wins when a link carries both."""
    if name in form:
        return form[name]
    legacy = LEGACY_QUERY_NAMES.get(name)
    if legacy is None or legacy not in form:
        return None
    value = form[legacy]
    return (
        LEGACY_QUERY_VALUES.get(legacy, {}).get(value, value) if isinstance(value, str) else value
    )


def refusal_body(refused, request) -> dict:
    """The JSON shape of a refusal, as the services answer it."""
    kinds = {403: "Forbidden", 413: "RequestTooLarge", 415: "UnsupportedMediaType"}
    return {
        "error": {
            "type": kinds.get(refused.status, "BadRequest"),
            "field": refused.field,
            "message": translate(refused.message, context=request),
        }
    }
