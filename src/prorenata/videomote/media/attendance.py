"""The media server tells Plone who joined and left each room (no Zope imports).

Plone names where to report in the join token it signs (claim ``a``: the site's
``@@videomote-narvaro``), so the media server needs no setting of its own and reports
only to the journal that let the person in. Each report is a POST of
``{"events": [...], "sent": <ISO time>}`` signed with the media secret (header
``X-Videomote-Signature``: hex HMAC-SHA256 of the body). Events carry an id, so a report
repeated after a lost answer is stored once.

A journal that does not answer keeps its events here, retried with backoff (1 s … 60 s)
for up to :data:`KEEP_SECONDS`; at most :data:`MAX_QUEUED` events wait in all (the oldest
go first beyond that), so a journal that is down for long cannot fill the server's memory.
"""

from collections import deque
from datetime import UTC
from datetime import datetime

import aiohttp
import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time

logger = logging.getLogger("prorenata.videomote.media")

JOIN, LEAVE = "join", "leave"
SIGNATURE_HEADER = "X-Videomote-Signature"
MAX_QUEUED = 10_000
MAX_BATCH = 200
KEEP_SECONDS = 24 * 3600
TIMEOUT_SECONDS = 5


def sign_body(body: bytes, secret: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def event(
    meeting: str,
    generation: int,
    who: str,
    name: str,
    role: str,
    kind: str,
    reason: str = "",
    now: datetime | None = None,
) -> dict:
    """One join or leave, as Plone stores it (``kind``: ``join``/``leave``)."""
    return {
        "id": secrets.token_hex(8),
        "meeting": meeting,
        "g": generation,
        "who": who,
        "name": name,
        "role": role,
        "kind": kind,
        "reason": reason,
        "at": (now or datetime.now(UTC)).isoformat(timespec="milliseconds"),
    }


class Reporter:
    """Queued events per report URL, sent by one task; retried while the journal is down."""

    def __init__(self, secret: bytes, backoff: tuple[float, float] = (1.0, 60.0)):
        self.secret = secret
        self.backoff = backoff
        self._queue: deque = deque(maxlen=MAX_QUEUED)  # (url, event, queued at)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.delivered = 0

    def report(self, url: str, item: dict) -> None:
        if not url:
            return
        self._queue.append((url, item, time.monotonic()))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def waiting(self) -> int:
        return len(self._queue)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        delay = self.backoff[0]
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        ) as session:
            while self._queue:
                self._drop_stale()
                if await self._send_some(session):
                    delay = self.backoff[0]
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                delay = min(delay * 2, self.backoff[1])

    def _drop_stale(self) -> None:
        cutoff = time.monotonic() - KEEP_SECONDS
        while self._queue and self._queue[0][2] < cutoff:
            self._queue.popleft()

    async def _send_some(self, session: aiohttp.ClientSession) -> bool:
        """Send the oldest waiting events for one URL; True if the journal took them."""
        if not self._queue:
            return True
        url = self._queue[0][0]
        batch = [entry for entry in list(self._queue) if entry[0] == url][:MAX_BATCH]
        body = json.dumps(
            {
                "events": [entry[1] for entry in batch],
                "sent": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(body, self.secret),
        }
        try:
            async with session.post(url, data=body, headers=headers) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            logger.warning("attendance report not delivered (%s); retrying", type(error).__name__)
            return False
        if status >= 500:
            logger.warning("attendance report answered %s; retrying", status)
            return False
        if status >= 400:
            # Refused for good (signature, a meeting the journal does not have): drop.
            logger.warning("attendance report refused (%s); %d events dropped", status, len(batch))
        else:
            self.delivered += len(batch)
        for entry in batch:
            with contextlib.suppress(ValueError):
                self._queue.remove(entry)
        return True
