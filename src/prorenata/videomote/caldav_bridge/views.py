"""Plone views of the bridge: the staff settings page and the worker's sync endpoint."""

from datetime import UTC
from datetime import datetime
from plone import api
from plone.protect import CheckAuthenticator
from plone.protect.interfaces import IDisableCSRFProtection
from Products.Five.browser import BrowserView
from prorenata.videomote import _
from prorenata.videomote import logger
from prorenata.videomote.access.keys import seal
from prorenata.videomote.access.keys import unseal
from prorenata.videomote.booking.rules import MAX_EMAIL
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.caldav_bridge.accounts import CalDAVAccountRecord
from prorenata.videomote.caldav_bridge.accounts import account_for
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.caldav_bridge.client import CALENDAR_NAME
from prorenata.videomote.caldav_bridge.client import CalendarAccount
from prorenata.videomote.caldav_bridge.lease import AccountBusy
from prorenata.videomote.caldav_bridge.lease import AccountGuard
from prorenata.videomote.caldav_bridge.lease import LeaseLost
from prorenata.videomote.caldav_bridge.sync import FAILED
from prorenata.videomote.caldav_bridge.sync import failed
from prorenata.videomote.caldav_bridge.sync import sync_account
from prorenata.videomote.request_input import InputRefused
from prorenata.videomote.request_input import form_text
from prorenata.videomote.translation import in_site_language
from ZODB.POSException import ConflictError
from zope.i18n import translate
from zope.interface import alsoProvides

import hmac
import json
import os
import transaction

WORKER_HEADER = "X-Videomote-Worker"
#: The environment variable holding the worker's shared secret (its name, not the secret).
WORKER_SECRET = "VIDEOMOTE_WORKER_SECRET"  # noqa: S105 - an environment variable's name
#: A CalDAV server's address.
MAX_URL = 2048


class CalendarSettingsView(BrowserView):
    """ "Kalenderkoppling": a clinician connects their own CalDAV calendar."""

    message = None
    error = None

    def __call__(self):
        userid = api.user.get_current().getId()
        site = api.portal.get()
        form = self.request.form
        if self.request.method == "POST":
            CheckAuthenticator(self.request)
            record = account_for(site, userid)
            if form.get("remove") and record is not None:
                del accounts(site)[userid]
                self.message = _("Kalenderkopplingen är borttagen.")
            elif form.get("save") or form.get("test"):
                try:
                    url = form_text(self.request, "url", MAX_URL, _("Serveradress")).strip()
                    username = form_text(
                        self.request, "username", MAX_EMAIL, _("Användarnamn")
                    ).strip()
                    password = form_text(self.request, "password", MAX_TOKEN, _("App-lösenord"))
                except InputRefused as refused:
                    self.error = refused.message  # next to the form, as its other errors
                    return self.index()
                password = password or (unseal(site, record.password) if record else "")
                if not url.startswith(("https://", "http://")) or not username or not password:
                    self.error = _("Fyll i serveradress, användarnamn och app-lösenord.")
                elif form.get("test"):
                    self._test(url, username, password)
                else:
                    if record is None or (record.url, record.username) != (url, username):
                        record = CalDAVAccountRecord(userid, url, username, "")
                        accounts(site)[userid] = record
                    record.password = seal(site, password)
                    record.dirty = True
                    self.message = _(
                        "Kalenderkopplingen är sparad. Dina videomöten förs över till "
                        "kalendern ${name}.",
                        mapping={"name": CALENDAR_NAME},
                    )
        return self.index()

    def _test(self, url: str, username: str, password: str) -> None:
        try:
            CalendarAccount(url, username, password).calendar()
        except Exception as error:  # any failure: tell the user in plain words
            self.error = _(
                "Det gick inte att ansluta till kalenderservern (${reason}). Kontrollera "
                "adressen, användarnamnet och app-lösenordet.",
                mapping={"reason": type(error).__name__},
            )
        else:
            self.message = _(
                "Anslutningen fungerar. Kalendern ${name} finns på servern.",
                mapping={"name": CALENDAR_NAME},
            )

    def record(self):
        return account_for(api.portal.get(), api.user.get_current().getId())

    def text(self, message) -> str:
        return translate(message, context=self.request) if message is not None else ""


class SyncEndpoint(BrowserView):
    """POST by the ``videomote-caldav-sync`` worker: run a round for every due account.

    Each account's round is a transaction of its own, under the account's lease
    (``lease.py``): any number of workers and Zope instances may call this at once, and
    each account is synced by one of them at a time (the others skip it this round). One
    account's failure never undoes another's round.
    """

    def __call__(self):
        alsoProvides(self.request, IDisableCSRFProtection)
        self.request.response.setHeader("Content-Type", "application/json")
        secret = os.environ.get(WORKER_SECRET, "")
        given = self.request.getHeader(WORKER_HEADER) or ""
        if not secret or not hmac.compare_digest(secret.encode(), given.encode()):
            self.request.response.setStatus(403)
            return json.dumps({"error": "worker secret required"})
        # "changes" (the worker every few seconds): an incremental round for every
        # account, cheap when nothing changed (one sync REPORT, no catalog query, no
        # ZODB write). Without it: a full round for every account (the safety net).
        # "dirty" is what workers before it sent; it means the same.
        incremental = self.request.form.get("only") in ("changes", "dirty")
        # One account alone (to sync it now, or to measure its round).
        one = self.request.form.get("account") or None
        site = api.portal.get()
        tree = accounts(site, create=False) or {}
        userids = [userid for userid in tree if one is None or userid == one]
        transaction.commit()  # nothing of this request is pending when the rounds begin
        results, busy = {}, []
        for userid in userids:
            result = self._sync_one(site, userid, incremental)
            if result is BUSY:
                busy.append(userid)
            elif result is not None:
                results[userid] = result
        return json.dumps({"synced": results, "busy": busy})

    def _sync_one(self, site, userid: str, incremental: bool):
        """One account's rounds in a transaction of their own, begun afresh (so they see
        every round stored before) and committed before the lease is given back."""
        transaction.begin()
        record = (accounts(site, create=False) or {}).get(userid)
        now = datetime.now(UTC)
        if record is None or (record.next_attempt is not None and record.next_attempt > now):
            return None
        guard = AccountGuard(site, userid)
        try:
            result = sync_account(record, now, incremental=incremental, guard=guard)
            guard.keep()  # still ours: the round is stored only by the lease's holder
            transaction.commit()
            return in_site_language(result)
        except AccountBusy as busy:
            transaction.abort()
            logger.info("CalDAV account skipped this round: %s", busy)
            return BUSY
        except (ConflictError, LeaseLost) as error:
            # Written meanwhile by the clinician (or the lease was lost): nothing of this
            # round is stored; the next round reads the account again.
            transaction.abort()
            logger.info("CalDAV round of %s not stored (%r); next round", userid, error)
            return None
        except Exception as error:
            transaction.abort()
            return self._failed(site, userid, now, type(error).__name__)
        finally:
            guard.release()

    def _failed(self, site, userid: str, now: datetime, kind: str) -> str:
        """Back off (as sync.failed does) after an unexpected error, in its own commit."""
        transaction.begin()
        record = accounts(site)[userid]
        failed(record, now, kind, _(FAILED, mapping={"error": kind}))
        result = in_site_language(record.last_result)
        try:
            transaction.commit()
        except ConflictError:
            transaction.abort()
        return result


#: What _sync_one answers for an account another holder syncs.
BUSY = object()
