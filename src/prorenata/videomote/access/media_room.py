"""The journal's side of the media server: join tokens into a meeting's room, and
telling the server that a room ended (a meeting ended or moved to a new time).

Below the pages (``browser/room.py``) and the scheduling rules (``content/scheduling.py``),
which both use it."""

from Acquisition import aq_base
from BTrees.OOBTree import OOBTree
from plone import api
from plone.protect.utils import safeWrite
from prorenata.videomote import logger
from prorenata.videomote.access import media_failover
from prorenata.videomote.access import signins
from prorenata.videomote.access.jointoken import issue_control_token
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.access.jointoken import media_secret
from prorenata.videomote.access.keys import secret_key
from prorenata.videomote.access.media_nodes import HEALTH_TIMEOUT_SECONDS
from prorenata.videomote.access.media_nodes import choose_node
from prorenata.videomote.access.media_nodes import configured_nodes
from prorenata.videomote.access.revocation import staff_who
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.interfaces import IIdentityCheck
from prorenata.videomote.storage import annotated
from prorenata.videomote.visit import store as attendance_store
from zope.component import queryUtility
from zope.globalrequest import getRequest

import requests
import threading
import time
import transaction

#: The media node a meeting's room lives on (one of ``media_nodes``), on the meeting
#: itself: every Zope instance places its pages' tokens there (the database coordinates).
NODE_ATTRIBUTE = "media_node"
#: When the meeting last left a node for failed media (seconds since the epoch).
MOVED_AT_ATTRIBUTE = "media_moved_at"
#: The site's recent media-failure reports, node URL → tuple of report tuples: every
#: Zope instance reads and writes them in the database (``media_failover.py``).
FAILURES_KEY = "prorenata.videomote.media_failures"
#: The staff who were given a token into the room of the meeting's current time:
#: ``(generation, {who: user id})``. A staff member is only an opaque ``who`` to the media
#: server; this says which user to check when access to the record changes.
ROOM_STAFF_ATTRIBUTE = "room_staff"
#: Staff remembered per room at most (a room holds four people; staff come and go).
MAX_ROOM_STAFF = 32
#: A removal is sent to each node at once and again after these pauses if it failed.
REMOVE_RETRY_SECONDS = (0.5, 2.0)


def media_server_url() -> str:
    return api.portal.get_registry_record("prorenata.videomote.media_server_url", default="")


def node_addresses() -> dict[str, str]:
    """Every media node: its WebSocket URL → where Plone reaches it (``media_nodes``,
    else ``media_server_url``)."""
    nodes = api.portal.get_registry_record("prorenata.videomote.media_nodes", default=None)
    return configured_nodes(nodes, media_server_url())


def media_nodes() -> list[str]:
    """Every media node's WebSocket URL, in the setting's order."""
    return list(node_addresses())


def node_health(base: str) -> object:
    """A node's ``/health`` answer, or None when it does not give one in time."""
    try:
        response = requests.get(base + "/health", timeout=HEALTH_TIMEOUT_SECONDS)
        return response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def media_node_for(meeting) -> str:
    """The media node the meeting's room lives on, placing it (again) when it has none,
    its node stopped answering, or its node's media fails (the node says so, or pages of
    several meetings reported it: ``media_failover.py``); everybody's next token then
    leads there, and the old node closes the room's sockets so nobody stays behind.

    With no node answering, the meeting keeps its node (else the first): a page then tries
    again, as it did with one media server."""
    addresses = node_addresses()
    nodes = list(addresses)
    if not nodes:
        return ""
    current = getattr(aq_base(meeting), NODE_ATTRIBUTE, None)
    if len(nodes) == 1:
        return nodes[0]  # nothing to choose from: no health check, no write
    answers: dict[str, object] = {}

    def health_of(url: str) -> object:
        if url not in answers:
            answers[url] = node_health(addresses[url])
        return answers[url]

    avoid = failed_nodes(nodes)
    chosen = choose_node(nodes, current, health_of, avoid=avoid)
    if chosen is None:
        return current if current in nodes else nodes[0]
    if chosen != current:
        # A node that answers but is left: its media fails (it says so, or reports do).
        answered = current in avoid or answers.get(current) is not None
        _place(meeting, current, chosen, "media_failed" if answered else "no_answer")
        if current in nodes and answered:
            tell_node_moved(meeting, addresses[current])
    return chosen


def _place(meeting, current: str | None, chosen: str, reason: str) -> None:
    # Written in a page's GET too (the room page): expected, not a forged request.
    # Two pages placing one meeting at once conflict; the retried one finds it placed.
    safeWrite(meeting, getRequest())
    setattr(meeting, NODE_ATTRIBUTE, chosen)
    logger.info("Meeting %s placed on media node %s", meeting.UID(), chosen)
    if current:
        if reason == "media_failed":
            setattr(meeting, MOVED_AT_ATTRIBUTE, time.time())
        record(
            audit.MEDIA_NODE_CHANGED,
            meeting,
            actor="system",
            role="system",
            from_node=current,
            to_node=chosen,
            reason=reason,
        )


def _failure_reports(create: bool = False):
    return annotated(api.portal.get(), FAILURES_KEY, OOBTree, create)


def node_reports(node: str) -> list[media_failover.FailureReport]:
    store = _failure_reports()
    if store is None:
        return []
    return [media_failover.FailureReport(*values) for values in store.get(node, ())]


def failed_nodes(nodes: list[str], now: float | None = None) -> set[str]:
    """The nodes reports (from several meetings) condemn now; no health check."""
    now = time.time() if now is None else now
    store = _failure_reports()
    if store is None:
        return set()
    return {node for node in nodes if media_failover.node_failed(node_reports(node), None, now)}


def report_media_failure(meeting, node: str, who: str, role: str) -> bool:
    """A page of ``meeting`` says its media failed on ``node`` (its WebSocket worked).

    Kept in the database for :data:`REPORT_WINDOW_SECONDS` (one per person and node);
    moves the meeting when the rules say so (``media_failover.meeting_moves``). True
    when the meeting stays where it is although the page reported it there: the page
    then retries on the same node (through TURN, when there is one)."""
    addresses = node_addresses()
    if len(addresses) < 2:
        return node in addresses  # nowhere to move to: retry there (through TURN)
    current = getattr(aq_base(meeting), NODE_ATTRIBUTE, None)
    if node not in addresses or node != current:
        return False  # moved already (the page follows with this token), or no node of ours
    now = time.time()
    report = media_failover.FailureReport(now, meeting.UID(), who, role)
    reports = node_reports(node)
    updated = media_failover.add_report(reports, report)
    if updated is not None:
        safeWrite(_failure_reports(create=True), getRequest())
        _failure_reports(create=True)[node] = tuple(tuple(r) for r in updated)
        reports = list(updated)
    health = node_health(addresses[node])
    last_moved = getattr(aq_base(meeting), MOVED_AT_ATTRIBUTE, None)
    if not media_failover.meeting_moves(reports, meeting.UID(), health, now, last_moved):
        return True
    chosen = choose_node(
        list(addresses), current, lambda url: node_health(addresses[url]), avoid={node}
    )
    if chosen is None or chosen == node:
        return True
    _place(meeting, node, chosen, "media_failed")
    tell_node_moved(meeting, addresses[node])
    return False


def tell_node_moved(meeting, base: str) -> None:
    """Once committed, best effort: the old node closes the meeting's room (not ended:
    its pages ask for a fresh token and follow to the new node)."""
    uid = meeting.UID()
    token = control_token(meeting, "move", signins.generation(meeting))
    payload = {"meeting": uid, "token": token}

    def after_commit(committed: bool) -> None:
        if not committed:
            return
        try:
            requests.post(base + "/move", json=payload, timeout=HEALTH_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            logger.warning(
                "Media node %s not told that meeting %s moved (%s)",
                base,
                uid,
                type(error).__name__,
            )

    transaction.get().addAfterCommitHook(after_commit)


def tell_media_server_ended(meeting, generation: int | None = None, reason: str = "") -> None:
    """Best effort, once committed: end the meeting's room on the media server too.

    The staff page sends "end" over its own connection, but that connection may be down
    just then (a reconnect), and participants must not stay in a meeting the journal has
    ended. A move ends the room of the old time (``generation``, ``reason="moved"``)."""
    # Every node: the one the room lives on, and the others, which then refuse it too
    # (a page that failed over must not open the ended meeting there).
    endpoints = [base + "/end" for base in node_addresses().values()]
    if not endpoints:
        return
    uid = meeting.UID()
    generation = signins.generation(meeting) if generation is None else generation
    details = {"reason": reason} if reason else {}
    token = control_token(meeting, "end", generation, **details)
    payload = {"meeting": uid, "token": token, **details}

    def after_commit(committed: bool) -> None:
        if not committed:
            return  # the journal did not end it after all
        for endpoint in endpoints:
            try:
                requests.post(endpoint, json=payload, timeout=3)
            except requests.RequestException as error:
                logger.warning(
                    "Media server %s not told that meeting %s ended (%s)",
                    endpoint,
                    uid,
                    type(error).__name__,
                )

    transaction.get().addAfterCommitHook(after_commit)


def media_key() -> bytes:
    """The key Plone signs what media nodes take from it with: join tokens and its own
    calls (``control_token``)."""
    return media_secret(secret_key(api.portal.get()))


def control_token(meeting, action: str, generation: int, **details) -> str:
    """Plone's own signed call ``action`` ("end", "move") on the room of the meeting's
    time ``generation``: never a join token, which every page in the room holds."""
    return issue_control_token(meeting.UID(), action, media_key(), generation, **details)


def join_token_for(
    meeting,
    role: str,
    display_name: str,
    identification: tuple[str, str] | None = None,
    who: str = "",
) -> str:
    """A join token for the current staff member, or for the meeting's one invitee, into
    the room of the meeting's current time (a moved meeting's room is another room on the
    media server, so the old one can end and the new one start).

    How this person was identified is kept for the visit note (``identification``:
    method and eIDAS level; staff: their journal login, participants: the SMS check their
    session was opened with). Plone's own calls to the media nodes are no join tokens
    (``control_token``)."""
    if role == "staff":
        # Opaque to the media server: which Plone user, not who they are.
        user_id = api.user.get_current().getId()
        who = staff_who(user_id)
        remember_staff(meeting, who, user_id)
    else:
        # The invitee, or an extra participant's id: each replaces only their own
        # older connection.
        who = who or "invitee"
    remember_identification(meeting, role, who, identification)
    return issue_join_token(
        meeting.UID(),
        role,
        display_name,
        media_key(),
        who=who,
        generation=signins.generation(meeting),
        report_url=attendance_store.report_url(),
    )


def remember_identification(meeting, role: str, who: str, given: tuple[str, str] | None) -> None:
    if given is None and role == "staff":
        given = attendance_store.STAFF_IDENTIFICATION
    if given is None:
        check = queryUtility(IIdentityCheck, name="sms")
        given = (check.method, check.assurance) if check is not None else ("", "")
    attendance_store.remember_identity(meeting, who, *given)


def remember_staff(meeting, who: str, user_id: str) -> None:
    """Which user a staff ``who`` in the current time's room is (written only when new)."""
    generation = signins.generation(meeting)
    stored = getattr(aq_base(meeting), ROOM_STAFF_ATTRIBUTE, None)
    known = dict(stored[1]) if stored and stored[0] == generation else {}
    if known.get(who) == user_id or len(known) >= MAX_ROOM_STAFF:
        return
    known[who] = user_id
    safeWrite(meeting, getRequest())  # written by the room page's GET too: meant
    setattr(meeting, ROOM_STAFF_ATTRIBUTE, (generation, known))


def room_staff(meeting) -> dict[str, str]:
    """Staff given a token into the current time's room: who → user id."""
    stored = getattr(aq_base(meeting), ROOM_STAFF_ATTRIBUTE, None)
    if not stored or stored[0] != signins.generation(meeting):
        return {}
    return dict(stored[1])


def tell_media_server_removed(meeting, who: list[str], reason: str) -> None:
    """Once committed: every media node closes these people's connections to the room of
    the meeting's current time and refuses the join tokens they were given until now
    (``access/revocation.py``); everybody else stays. Sent from a thread of its own, at
    once and again after a short pause if a node did not answer; logged without names."""
    endpoints = [base + "/remove" for base in node_addresses().values()]
    if not endpoints or not who:
        return
    uid = meeting.UID()
    generation, key = signins.generation(meeting), media_key()

    def after_commit(committed: bool) -> None:
        if not committed:
            return
        # Plone's clock, as the tokens' issue times: every token issued up to now.
        details = {"who": list(who), "before": time.time(), "reason": reason}
        token = issue_control_token(uid, "remove", key, generation, **details)
        payload = {"meeting": uid, "token": token, **details}
        sender = threading.Thread(
            target=_send_removal,
            args=(endpoints, payload),
            name="videomote-remove",
            daemon=True,
        )
        sender.start()

    transaction.get().addAfterCommitHook(after_commit)


def _send_removal(endpoints: list[str], payload: dict) -> None:
    waiting = list(endpoints)
    for pause in (0.0, *REMOVE_RETRY_SECONDS):
        time.sleep(pause)
        waiting = [endpoint for endpoint in waiting if not _post_removal(endpoint, payload)]
        if not waiting:
            return
    for endpoint in waiting:
        logger.warning(
            "Media server %s not told of %d removal(s) from meeting %s",
            endpoint,
            len(payload["who"]),
            payload["meeting"],
        )


def _post_removal(endpoint: str, payload: dict) -> bool:
    try:
        return requests.post(endpoint, json=payload, timeout=3).status_code == 200
    except requests.RequestException:
        return False
