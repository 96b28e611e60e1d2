"""Signing and verification: what a receiver checks before trusting a delivery. No database."""

import hashlib
import hmac

from marketplace.services.webhooks import webhook_sign, webhook_verify

SECRET = "whsec_test-secret"
BODY = b'{"id":"e1","type":"ping"}'
NOW = 1_800_000_000


def test_the_signature_is_an_hmac_sha256_of_the_timestamp_and_the_body():
    header = webhook_sign(secret=SECRET, timestamp=NOW, body=BODY)

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_a_genuine_signature_verifies():
    header = webhook_sign(secret=SECRET, timestamp=NOW, body=BODY)

    assert webhook_verify(secret=SECRET, header=header, body=BODY, now=NOW + 10)
    assert webhook_verify(secret=SECRET, header=header, body=BODY.decode(), now=NOW)


def test_a_changed_body_a_wrong_secret_or_a_changed_timestamp_does_not_verify():
    header = webhook_sign(secret=SECRET, timestamp=NOW, body=BODY)

    assert not webhook_verify(secret=SECRET, header=header, body=BODY + b" ", now=NOW)
    assert not webhook_verify(secret="whsec_other", header=header, body=BODY, now=NOW)
    assert not webhook_verify(secret=SECRET, header=header.replace(f"t={NOW}", f"t={NOW + 1}"), body=BODY, now=NOW)


def test_an_old_delivery_is_refused_as_a_replay():
    header = webhook_sign(secret=SECRET, timestamp=NOW, body=BODY)

    assert not webhook_verify(secret=SECRET, header=header, body=BODY, now=NOW + 301)
    assert webhook_verify(secret=SECRET, header=header, body=BODY, now=NOW + 3600, tolerance=3600)


def test_any_of_several_signatures_may_match_and_malformed_headers_are_refused():
    good = webhook_sign(secret=SECRET, timestamp=NOW, body=BODY).split(",v1=")[1]

    assert webhook_verify(secret=SECRET, header=f"t={NOW},v1=deadbeef,v1={good},v0=x", body=BODY, now=NOW)
    for header in ["", "garbage", f"t={NOW}", f"v1={good}", f"t=soon,v1={good}"]:
        assert not webhook_verify(secret=SECRET, header=header, body=BODY, now=NOW)
