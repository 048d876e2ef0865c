"""Slack's request signature, checked on the raw bytes before anything else is read.

slack_sdk's SignatureVerifier raises on a non-numeric timestamp, decodes the body as UTF-8
before hashing it and compares non-ASCII signatures by raising: each of those is a 500 that
anyone who can reach the port can cause. This check answers only yes or no.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

MAX_AGE_SECONDS = 5 * 60
"""Slack's own replay window: an older (or future) timestamp is refused."""

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""ASCII digits only: int() would also take other scripts' digits, spaces and underscores."""

_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def is_signed(body: bytes, headers: Mapping[str, str], secret: str, now: float) -> bool:
    """Whether `body` carries a fresh, valid `X-Slack-Signature` for `secret`."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if timestamp is None or signature is None:
        return False
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))
