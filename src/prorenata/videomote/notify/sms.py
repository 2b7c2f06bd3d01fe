"""SMS gateways: the local outbox (dev, demo, tests) and 46elks' HTTP API."""

from BTrees.OOBTree import OOBTree
from datetime import UTC
from datetime import datetime
from plone import api
from prorenata.videomote.interfaces import ISMSGateway
from prorenata.videomote.interfaces import SMSFailed
from prorenata.videomote.storage import annotated
from zope.component import getUtility
from zope.interface import implementer

import requests
import uuid

OUTBOX_KEY = "prorenata.videomote.sms-outbox"
OUTBOX_LIMIT = 500
TIMEOUT_SECONDS = 10


def sms_gateway() -> ISMSGateway:
    """The gateway chosen in the control panel."""
    name = api.portal.get_registry_record("prorenata.videomote.sms_gateway", default="outbox")
    return getUtility(ISMSGateway, name=name or "outbox")


def is_transactional(gateway) -> bool:
    """Whether the gateway's "sending" is a write in the current transaction (the outbox):
    an attempt that ends in a database conflict takes it back, so it is done again."""
    return getattr(gateway, "transactional", False)


def _outbox_tree(site, create: bool = False) -> OOBTree | None:
    # A BTree keyed by time: concurrent sends insert different keys and do not conflict.
    return annotated(site, OUTBOX_KEY, OOBTree, create)


def sms_outbox(site) -> list[dict]:
    """The messages kept by the outbox gateway, oldest first."""
    box = _outbox_tree(site)
    return [dict(message) for message in box.values()] if box is not None else []


@implementer(ISMSGateway)
class OutboxGateway:
    """Keeps messages in the site instead of sending them: the phone of the demo.

    Managers read it at ``@@videomote-sms-utkorg``; only the newest 500 are kept.
    """

    #: Its "sending" is a write in the request's transaction: an attempt that ends in a
    #: database conflict loses it, where an operator's SMS has gone (the sign-in keeps
    #: the message again on the retry).
    transactional = True

    def send(self, to: str, text: str) -> str:
        box = _outbox_tree(api.portal.get(), create=True)
        now = datetime.now(UTC)
        message_id = f"outbox-{uuid.uuid4().hex[:12]}"
        box[(now.isoformat(), message_id)] = {"id": message_id, "to": to, "text": text, "time": now}
        # Keyed by time, so the oldest is the tree's first key: drop from there, without
        # listing the keys.
        for _ in range(len(box) - OUTBOX_LIMIT):
            del box[box.minKey()]
        return message_id


class FortySixElksClient:
    """A client of 46elks' SMS API (``POST /a1/sms``, HTTP basic auth, form fields)."""

    def __init__(self, url: str, username: str, password: str, sender: str):
        self.url, self.auth, self.sender = url, (username, password), sender

    def send(self, to: str, text: str) -> str:
        try:
            response = requests.post(
                self.url,
                auth=self.auth,
                data={"from": self.sender, "to": to, "message": text},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            raise SMSFailed(f"network: {type(error).__name__}") from None
        if response.status_code != 200:
            # 46elks answers errors in plain text; keep only the status (bodies can echo numbers).
            raise SMSFailed(f"http {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise SMSFailed("unreadable answer") from None
        if body.get("status") not in ("created", "sent", "delivered"):
            raise SMSFailed(f"status {body.get('status')!r}")
        return str(body.get("id", ""))


@implementer(ISMSGateway)
class FortySixElksGateway:
    """46elks with the credentials from the control panel."""

    def send(self, to: str, text: str) -> str:
        def setting(name, default=""):
            return api.portal.get_registry_record(f"prorenata.videomote.{name}", default=default)

        username, password = setting("sms_api_username"), setting("sms_api_password")
        if not username or not password:
            raise SMSFailed("46elks is chosen but has no credentials")
        client = FortySixElksClient(
            setting("sms_api_url") or "https://api.46elks.com/a1/sms",
            username,
            password,
            setting("sms_sender") or "Videomote",
        )
        return client.send(to, text)
