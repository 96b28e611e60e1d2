"""Webhook signatures: a new endpoint secret, the signature a delivery carries, and its check (for receivers).

`X-Crowdmarket-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.
"""

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec"


def webhook_secret_new() -> str:
    return f"{SECRET_PREFIX}_{secrets.token_urlsafe(32)}"


def webhook_sign(*, secret: str, timestamp: int, body: bytes | str) -> str:
    """The `X-Crowdmarket-Signature` value: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_verify(
    *, secret: str, header: str, body: bytes | str, tolerance: int = 300, now: float | None = None
) -> bool:
    """Whether `header` signs `body` under `secret`, made at most `tolerance` seconds from `now` (replay guard).

    Compares in constant time; accepts a header carrying several `v1=` signatures, and ignores unknown schemes.
    """
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = webhook_sign(secret=secret, timestamp=timestamp, body=body).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, signature) for signature in signatures)
