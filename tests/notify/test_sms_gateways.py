"""The 46elks client against a local HTTP server that speaks that API, and the outbox."""

from prorenata.videomote.interfaces import SMSFailed
from prorenata.videomote.notify.sms import FortySixElksClient
from prorenata.videomote.notify.sms import OutboxGateway
from prorenata.videomote.notify.sms import sms_outbox

import json
import pytest


def test_46elks_client_sends_form_with_basic_auth(elks):
    url, handler = elks
    client = FortySixElksClient(url, "u123", "secret", "Videomote")
    message_id = client.send(
        "+46701234567", "Din inloggningskod till Prorenata Videomöte är 123456"
    )
    assert message_id == "s70df59406a1b4643b96f3f91e0bfb7b0"
    (request,) = handler.received
    assert request["path"] == "/a1/sms"
    assert request["to"] == "+46701234567"
    assert request["from"] == "Videomote"
    assert request["message"] == "Din inloggningskod till Prorenata Videomöte är 123456"


def test_46elks_wrong_credentials_fail_clearly(elks):
    url, _ = elks
    with pytest.raises(SMSFailed) as failed:
        FortySixElksClient(url, "u123", "wrong", "Videomote").send("+46701234567", "x")
    assert failed.value.reason == "http 401"


@pytest.mark.parametrize(
    "answer, reason",
    [
        ((403, "Invalid to number"), "http 403"),
        ((402, "Not enough credits"), "http 402"),
        ((503, "Service unavailable"), "http 503"),
        ((200, "not json"), "unreadable answer"),
        ((200, json.dumps({"status": "failed"})), "status 'failed'"),
    ],
)
def test_46elks_error_answers_fail_without_echoing_the_body(elks, answer, reason):
    url, handler = elks
    handler.answer = answer
    with pytest.raises(SMSFailed) as failed:
        FortySixElksClient(url, "u123", "secret", "Videomote").send("+46701234567", "x")
    assert failed.value.reason == reason


def test_46elks_unreachable_server_fails_as_network_error():
    client = FortySixElksClient("http://127.0.0.1:9/a1/sms", "u", "p", "Videomote")
    with pytest.raises(SMSFailed) as failed:
        client.send("+46701234567", "x")
    assert failed.value.reason.startswith("network:")


def test_outbox_gateway_keeps_the_message_in_the_site(portal):
    OutboxGateway().send("+46701234567", "Din inloggningskod till Prorenata Videomöte är 654321")
    (message,) = sms_outbox(portal)
    assert message["to"] == "+46701234567"
    assert message["text"].endswith("654321")
