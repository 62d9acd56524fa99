"""Standard Webhooks signing: `whsec_<base64>` secrets, `v1,<base64 HMAC-SHA256>` signatures.

The signed content is `<webhook-id>.<webhook-timestamp>.<body>`; the HMAC key is the secret's
decoded bytes. During a rotation the header carries one signature per valid secret, separated
by spaces, and a receiver accepts the message if any of them verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)
