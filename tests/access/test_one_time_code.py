"""The SMS one-time code rules, with an injectable clock (plain Python)."""

from datetime import datetime
from datetime import timedelta
from prorenata.videomote.access.otp import CodePolicy
from prorenata.videomote.access.otp import PendingSignIn
from prorenata.videomote.access.otp import QuotaExceeded
from prorenata.videomote.access.otp import SmsQuota
from prorenata.videomote.access.otp import Verdict
from prorenata.videomote.access.otp import count_sent
from prorenata.videomote.access.otp import issue_code
from prorenata.videomote.access.otp import lift_quota
from prorenata.videomote.access.otp import mask_mobile
from prorenata.videomote.access.otp import quota_spent
from prorenata.videomote.access.otp import verify
from prorenata.videomote.access.otp import withdraw

import pytest
import re

KEY = b"k" * 32
POLICY = CodePolicy()
NOW = datetime(2026, 12, 1, 9, 0)


def _signin(meeting="A", signin_id="s1"):
    return PendingSignIn(meeting_uid=meeting, invitee="guardian", signin_id=signin_id)


def _issued(signin=None, quota=None):
    signin = signin or _signin()
    code = issue_code(signin, quota or SmsQuota(), KEY, NOW, POLICY)
    return signin, code


def test_code_is_six_digits_and_stored_only_as_hash():
    signin, code = _issued()
    assert re.fullmatch(r"\d{6}", code)
    assert code not in signin.code_hash


def test_right_code_is_accepted_once():
    signin, code = _issued()
    assert verify(signin, code, KEY, NOW, POLICY) is Verdict.ACCEPTED
    assert verify(signin, code, KEY, NOW, POLICY) is Verdict.USED


def test_code_typed_with_spaces_is_accepted():
    signin, code = _issued()
    assert verify(signin, f" {code[:3]} {code[3:]} ", KEY, NOW, POLICY) is Verdict.ACCEPTED


def test_sixth_wrong_try_is_refused_even_with_the_right_code():
    signin, code = _issued()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    verdicts = [verify(signin, wrong, KEY, NOW, POLICY) for _ in range(5)]
    assert verdicts == [Verdict.WRONG] * 4 + [Verdict.LOCKED]
    assert verify(signin, code, KEY, NOW, POLICY) is Verdict.LOCKED


def test_code_expires_after_its_lifetime():
    signin, code = _issued()
    later = NOW + POLICY.lifetime + timedelta(seconds=1)
    assert verify(signin, code, KEY, later, POLICY) is Verdict.EXPIRED


def test_code_for_meeting_a_is_refused_for_meeting_b():
    a, code = _issued(_signin(meeting="A"))
    b = _signin(meeting="B")  # even with A's stored state, the hash binds the meeting
    b.code_hash, b.issued_at = a.code_hash, a.issued_at
    assert verify(b, code, KEY, NOW, POLICY) is Verdict.WRONG


def test_code_from_another_browser_is_refused():
    first, code = _issued(_signin(signin_id="browser-1"))
    other = _signin(signin_id="browser-2")
    other.code_hash, other.issued_at = first.code_hash, first.issued_at
    assert verify(other, code, KEY, NOW, POLICY) is Verdict.WRONG


def test_a_new_code_replaces_the_old_one():
    signin, old = _issued()
    new = issue_code(signin, SmsQuota(), KEY, NOW, POLICY)
    if new != old:
        assert verify(signin, old, KEY, NOW, POLICY) is Verdict.WRONG
    assert verify(signin, new, KEY, NOW, POLICY) is Verdict.ACCEPTED


def test_sms_quota_per_sign_in_and_hour():
    quota = SmsQuota()
    signin = _signin()
    for minute in range(POLICY.sms_per_hour):
        issue_code(signin, quota, KEY, NOW + timedelta(minutes=minute), POLICY)
        count_sent(quota, NOW + timedelta(minutes=minute), signin)
    with pytest.raises(QuotaExceeded) as refused:
        issue_code(signin, quota, KEY, NOW + timedelta(minutes=10), POLICY)
    assert refused.value.next_allowed == NOW + timedelta(hours=1)
    assert refused.value.scope == "signin"
    # Another browser (the real participant) is not refused because of this one.
    issue_code(_signin(signin_id="other"), quota, KEY, NOW + timedelta(minutes=10), POLICY)
    issue_code(signin, quota, KEY, NOW + timedelta(hours=1, seconds=1), POLICY)


def test_sms_quota_per_meeting_caps_all_sign_ins_together_until_staff_lift_it():
    quota = SmsQuota()
    browsers = [_signin(signin_id=f"b{i}") for i in range(POLICY.sms_per_meeting_per_hour)]
    for browser in browsers:
        issue_code(browser, quota, KEY, NOW, POLICY)
        count_sent(quota, NOW, browser)
    real = _signin(signin_id="real")
    assert quota_spent(quota, [real], NOW, POLICY)
    with pytest.raises(QuotaExceeded) as refused:
        issue_code(real, quota, KEY, NOW + timedelta(minutes=1), POLICY)
    assert refused.value.scope == "meeting"
    assert refused.value.next_allowed == NOW + timedelta(hours=1)
    lift_quota(quota, [*browsers, real])
    assert not quota_spent(quota, [*browsers, real], NOW, POLICY)
    issue_code(real, quota, KEY, NOW + timedelta(minutes=1), POLICY)


def test_a_browser_with_its_own_quota_spent_shows_staff_a_spent_quota():
    quota, signin = SmsQuota(), _signin()
    for _ in range(POLICY.sms_per_hour):
        count_sent(quota, NOW, signin)
    assert quota_spent(quota, [signin], NOW, POLICY)
    assert not quota_spent(quota, [signin], NOW + timedelta(hours=1), POLICY)


def test_failed_sms_consumes_no_quota_and_leaves_no_code():
    quota = SmsQuota()
    signin, code = _issued(quota=quota)
    withdraw(signin)  # the gateway failed: count_sent is never called
    assert quota.remaining(NOW, POLICY) == POLICY.sms_per_meeting_per_hour
    assert not signin.texted and signin.sms_sent == ()
    assert verify(signin, code, KEY, NOW, POLICY) is Verdict.NO_CODE


def test_mobile_is_shown_masked():
    assert mask_mobile("+46701234567") == "070-*** **67"
