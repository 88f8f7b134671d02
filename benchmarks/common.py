"""What the benchmark scripts share: the baselines sign requests without pushcli's code."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any


def signed_batch_path(srv: Any, body: bytes) -> str:
    """Path and signed query for POST /apps/{id}/batch_events (Pusher's REST signing)."""
    path = f"/apps/{srv.app_id}/batch_events"
    query = {
        "auth_key": srv.key,
        "auth_timestamp": str(int(time.time())),
        "auth_version": "1.0",
        "body_md5": hashlib.md5(body).hexdigest(),  # noqa: S324 - Pusher's protocol
    }
    qs = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
    sig = hmac.new(srv.secret.encode(), f"POST\n{path}\n{qs}".encode(), hashlib.sha256).hexdigest()
    return f"{path}?{qs}&auth_signature={sig}"
