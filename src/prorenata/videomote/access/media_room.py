"""The journal's side of the media server: join tokens into a meeting's room, and
telling the server that a room ended (a meeting ended or moved to a new time).

Below the pages (``browser/room.py``) and the scheduling rules (``content/scheduling.py``),
which both use it."""

from plone import api
from prorenata.videomote import logger
from prorenata.videomote.access import signins
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.access.jointoken import media_secret
from prorenata.videomote.access.keys import secret_key

import hashlib
import re
import requests
import transaction


def media_server_url() -> str:
    return api.portal.get_registry_record("prorenata.videomote.media_server_url", default="")


def tell_media_server_ended(meeting, generation: int | None = None, reason: str = "") -> None:
    """Best effort, once committed: end the meeting's room on the media server too.

    The staff page sends "end" over its own connection, but that connection may be down
    just then (a reconnect), and participants must not stay in a meeting the journal has
    ended. A move ends the room of the old time (``generation``, ``reason="moved"``)."""
    url = media_server_url()
    if not url:
        return
    endpoint = re.sub(r"^ws", "http", url).rsplit("/", 1)[0] + "/end"
    uid = meeting.UID()
    token = join_token_for(meeting, "staff", "Plone", generation=generation)
    payload = {"meeting": uid, "token": token, **({"reason": reason} if reason else {})}

    def after_commit(committed: bool) -> None:
        if not committed:
            return  # the journal did not end it after all
        try:
            requests.post(endpoint, json=payload, timeout=3)
        except requests.RequestException as error:
            logger.warning(
                "Media server not told that meeting %s ended (%s)", uid, type(error).__name__
            )

    transaction.get().addAfterCommitHook(after_commit)


def join_token_for(meeting, role: str, display_name: str, generation: int | None = None) -> str:
    """A join token for the current staff member, or for the meeting's one invitee, into
    the room of the meeting's current time (``generation``: a moved meeting's room is
    another room on the media server, so the old one can end and the new one start)."""
    if role == "staff":
        # Opaque to the media server: which Plone user, not who they are.
        who = hashlib.sha256(f"staff|{api.user.get_current().getId()}".encode()).hexdigest()[:16]
    else:
        who = "invitee"
    return issue_join_token(
        meeting.UID(),
        role,
        display_name,
        media_secret(secret_key(api.portal.get())),
        who=who,
        generation=signins.generation(meeting) if generation is None else generation,
    )
