"""`pushcli auth serve`: a local auth endpoint answering pusher-js as an app backend would.

POST /pusher/auth (private, presence, private-encrypted) and POST /pusher/user-auth
(signin), form or JSON bodies, CORS for a browser dev server, --deny to simulate refusals.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from pushcli.client.profiles import Settings
from pushcli.errors import PushcliError
from pushcli.protocol.auth import channel_auth_response, user_auth_response
from pushcli.protocol.channels import kind_of
from pushcli.server.localhttp import HttpRequest, HttpResponse

CHANNEL_PATH = "/pusher/auth"
USER_PATH = "/pusher/user-auth"
USER_ID_HEADER = "x-user-id"
USER_INFO_HEADER = "x-user-info"


def parse_body(req: HttpRequest) -> dict[str, str]:
    """Form (what pusher-js sends) or JSON bodies, to a flat dict of strings."""
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    text = req.body.decode("utf-8", "replace")
    if ctype == "application/json" or text.lstrip().startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            return {}
        if not isinstance(obj, dict):
            return {}
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


@dataclass
class AuthEndpoint:
    settings: Settings
    user_id: str | None = None
    user_info: str | None = None
    deny: list[str] = field(default_factory=list)
    cors_origins: list[str] = field(default_factory=list)
    log: Callable[[dict[str, Any]], None] = lambda record: None

    def __call__(self, req: HttpRequest) -> HttpResponse:
        path = req.path.split("?")[0]
        cors = self._cors_headers(req)
        if req.method == "OPTIONS":
            return HttpResponse(204, b"", cors)
        if req.method != "POST" or path not in (CHANNEL_PATH, USER_PATH):
            return HttpResponse(404, b'{"error":"POST /pusher/auth or /pusher/user-auth"}', cors)
        params = parse_body(req)
        record: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "path": path,
            "socket_id": params.get("socket_id"),
            "origin": req.headers.get("origin"),
        }
        status, answer, decision = self._decide(path, params, req, record)
        record.update(status=status, decision=decision)
        self.log(record)
        return HttpResponse(status, json.dumps(answer, separators=(",", ":")).encode(), cors)

    def _identity(self, params: dict[str, str], req: HttpRequest) -> tuple[str, str | None]:
        user_id = (
            req.headers.get(USER_ID_HEADER)
            or params.get("user_id")
            or self.user_id
            or f"user-{params.get('socket_id', 'anonymous')}"
        )
        info = req.headers.get(USER_INFO_HEADER) or params.get("user_info") or self.user_info
        return user_id, info

    def _decide(
        self, path: str, params: dict[str, str], req: HttpRequest, record: dict[str, Any]
    ) -> tuple[int, dict[str, Any], str]:
        socket_id = params.get("socket_id", "")
        try:
            if path == USER_PATH:
                user_id, info = self._identity(params, req)
                record["user_id"] = user_id
                data: dict[str, Any] = {"id": user_id}
                if info:
                    data["user_info"] = json.loads(info)
                answer = user_auth_response(
                    self.settings, socket_id, json.dumps(data, separators=(",", ":"))
                )
                return 200, answer, "signed in"
            channel = params.get("channel_name", "")
            record["channel"] = channel
            for pattern in self.deny:
                if fnmatch.fnmatchcase(channel, pattern):
                    return 403, {"error": f"denied by --deny {pattern}"}, f"denied ({pattern})"
            kwargs: dict[str, Any] = {}
            if kind_of(channel).has_members:
                kwargs["user_id"], kwargs["user_info"] = self._identity(params, req)
                record["user_id"] = kwargs["user_id"]
            answer = channel_auth_response(self.settings, channel, socket_id, **kwargs)
            return 200, answer, "signed"
        except PushcliError as e:
            status = 500 if e.exit_code == 3 else 400
            return status, {"error": e.message}, f"refused: {e.message}"
        except ValueError as e:
            return 400, {"error": f"invalid user info: {e}"}, "refused: invalid user info"

    def _cors_headers(self, req: HttpRequest) -> dict[str, str]:
        origin = req.headers.get("origin")
        if not origin or not self.cors_origins:
            return {}
        if "*" in self.cors_origins:
            allowed = "*"
        elif origin in self.cors_origins:
            allowed = origin
        else:
            return {}
        headers = {
            "Access-Control-Allow-Origin": allowed,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": req.headers.get(
                "access-control-request-headers", "Content-Type, X-User-Id, X-User-Info"
            ),
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }
        if allowed != "*":
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers
