"""Identity checks a participant can pass; recorded on the session and in the audit log."""

from prorenata.videomote.interfaces import IIdentityCheck
from zope.interface import implementer


@implementer(IIdentityCheck)
class SmsIdentityCheck:
    """A one-time code sent by SMS to the mobile registered for the invitee.

    Possession of a registered phone: eIDAS level "low". BankID or Freja eID
    ("substantial") plug in as further named IIdentityCheck utilities.
    """

    method = "sms-otp"
    assurance = "low"
