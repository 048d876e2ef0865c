"""The test bot's fixed configuration, and Slack's request signature computed the way Slack does."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

SIGNING_SECRET = "test-signing-secret-0123456789"
INGEST_TOKEN = "test-ingest-token-0123456789abcdef"
ROUTING_FILE = Path(__file__).parent.parent / "data" / "routing.yaml"


def slack_signature(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    """What Slack puts in X-Slack-Signature: v0=HMAC-SHA256(secret, 'v0:ts:body')."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
