"""The signature of a webhook delivery, as receivers verify it (README "Webhooks").

`X-Loopkeeper-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret>`; the
timestamp is `X-Loopkeeper-Timestamp` (unix seconds at sending), so a receiver can refuse an old
delivery replayed.
"""

from __future__ import annotations

import hashlib
import hmac

VERSION = "v1"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The X-Loopkeeper-Signature header value for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    return f"{VERSION}=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
