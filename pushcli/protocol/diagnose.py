"""Explaining signatures that do not verify: channel auth, user auth and webhooks (pure).

Each check recomputes what the signature should have been, and when it differs tries the
usual mistakes one by one (wrong key, wrong secret, re-serialised JSON, another socket id…)
so the answer names a likely cause instead of just saying "invalid".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pushcli.errors import InputError
from pushcli.protocol import limits, signing, webhooks
from pushcli.protocol.channels import ChannelKind, check_channel, kind_of


@dataclass
class Verdict:
    valid: bool
    string_to_sign: str
    expected: str
    given: str
    causes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "string_to_sign": self.string_to_sign,
            "expected": self.expected,
            "given": self.given,
            "causes": self.causes,
        }


def _json_variants(text: str) -> list[tuple[str, str]]:
    """The same JSON serialised the ways libraries commonly do it."""
    try:
        value = json.loads(text)
        variants = [
            ("compact", json.dumps(value, separators=(",", ":"), ensure_ascii=False)),
            ("with spaces (Python's default)", json.dumps(value)),
            ("with spaces, unicode kept", json.dumps(value, ensure_ascii=False)),
            ("compact, keys sorted", json.dumps(value, separators=(",", ":"), sort_keys=True)),
            ("with spaces, keys sorted", json.dumps(value, sort_keys=True)),
            ("compact, unicode escaped", json.dumps(value, separators=(",", ":"))),
        ]
    except (ValueError, RecursionError):  # not JSON, or nested too deep to re-serialise
        return []
    return [(label, v) for label, v in variants if v != text]


def _split_auth(auth: str) -> tuple[str, str]:
    key, sep, sig = auth.strip().rpartition(":")
    if not sep or not key:
        raise InputError("--auth must look like KEY:SIGNATURE (as the auth endpoint returns it)")
    return key, sig.lower()


def verify_channel_auth(
    key: str,
    secret: str,
    channel: str,
    socket_id: str,
    auth: str,
    *,
    channel_data: str | None = None,
) -> Verdict:
    check_channel(channel)
    limits.check_socket_id(socket_id)
    kind = kind_of(channel)
    if not kind.needs_auth:
        raise InputError(f"{channel} is a public channel: subscriptions to it are not signed")
    given_key, given_sig = _split_auth(auth)
    data = channel_data if kind.has_members else None
    string = signing.channel_auth_string(socket_id, channel, data)
    expected_sig = signing.hmac_hex(secret, string)
    verdict = Verdict(
        valid=given_key == key and signing.verify_hex(expected_sig, given_sig),
        string_to_sign=string,
        expected=f"{key}:{expected_sig}",
        given=auth.strip(),
    )
    if verdict.valid:
        return verdict
    causes = verdict.causes
    if given_key != key:
        causes.append(
            f"the auth names key {given_key!r} but this app's key is {key!r}: "
            "the endpoint signs with another app's credentials"
        )
        if signing.verify_hex(expected_sig, given_sig):
            causes.append("the signature itself is right: only the key prefix is wrong")
            return verdict
    if kind.has_members and channel_data is None:
        causes.append(
            "presence channels sign socket_id:channel:channel_data: give --channel-data with the "
            "exact channel_data string the endpoint returned"
        )
        return verdict
    if not kind.has_members and channel_data is not None:
        with_data = signing.hmac_hex(
            secret, signing.channel_auth_string(socket_id, channel, channel_data)
        )
        if signing.verify_hex(with_data, given_sig):
            causes.append(
                f"the endpoint signed channel_data, but {kind} channels sign only socket_id:channel"
            )
            return verdict
    if data is not None:
        for label, variant in _json_variants(data):
            if signing.verify_hex(
                signing.hmac_hex(secret, signing.channel_auth_string(socket_id, channel, variant)),
                given_sig,
            ):
                causes.append(
                    f"the signature is for channel_data serialised {label}, not the string "
                    "that was sent: sign and send the very same channel_data string"
                )
                return verdict
    if kind.has_members and data is not None:
        bare = signing.hmac_hex(secret, signing.channel_auth_string(socket_id, channel))
        if signing.verify_hex(bare, given_sig):
            causes.append("the endpoint signed socket_id:channel without the channel_data")
            return verdict
    for other in _channel_name_variants(channel):
        if signing.verify_hex(
            signing.hmac_hex(secret, signing.channel_auth_string(socket_id, other, data)), given_sig
        ):
            causes.append(f"the signature is for channel {other!r}, not {channel!r}")
            return verdict
    causes.append(
        "the signature matches no common mistake: the endpoint uses another secret, or signed "
        "another socket id (each connection has its own; did the page reconnect?)"
    )
    return verdict


def _channel_name_variants(channel: str) -> list[str]:
    out = []
    kind = kind_of(channel)
    if kind.needs_auth:  # the name with its prefix stripped: a common mistake of auth endpoints
        out.append(channel[len(kind.prefix) :])
        if kind.encrypted:
            out.append(channel[len(ChannelKind.PRIVATE.prefix) :])
    if channel != channel.strip():
        out.append(channel.strip())
    return out


def verify_user_auth(key: str, secret: str, socket_id: str, auth: str, user_data: str) -> Verdict:
    limits.check_socket_id(socket_id)
    given_key, given_sig = _split_auth(auth)
    string = signing.user_auth_string(socket_id, user_data)
    expected_sig = signing.hmac_hex(secret, string)
    verdict = Verdict(
        valid=given_key == key and signing.verify_hex(expected_sig, given_sig),
        string_to_sign=string,
        expected=f"{key}:{expected_sig}",
        given=auth.strip(),
    )
    if verdict.valid:
        return verdict
    if given_key != key:
        verdict.causes.append(f"the auth names key {given_key!r} but this app's key is {key!r}")
    for label, variant in _json_variants(user_data):
        if signing.verify_hex(
            signing.hmac_hex(secret, signing.user_auth_string(socket_id, variant)), given_sig
        ):
            verdict.causes.append(
                f"the signature is for user_data serialised {label}: sign and send the same string"
            )
            return verdict
    legacy = signing.hmac_hex(secret, f"{socket_id}:user:{user_data}")
    if signing.verify_hex(legacy, given_sig):
        verdict.causes.append('the string signed used ":user:" instead of "::user::"')
        return verdict
    verdict.causes.append("wrong secret, or a signature for another socket id")
    return verdict


def verify_webhook(
    secret: str, app_key: str, body: bytes, signature: str, header_key: str | None = None
) -> Verdict:
    expected = webhooks.signature(secret, body)
    key_ok = header_key is None or header_key == app_key
    verdict = Verdict(
        valid=key_ok and webhooks.verify(secret, body, signature),
        string_to_sign=f"<{len(body)} bytes of body>",
        expected=expected,
        given=signature.strip(),
    )
    if verdict.valid:
        return verdict
    if not key_ok:
        verdict.causes.append(
            f"X-Pusher-Key is {header_key!r} but this app's key is {app_key!r}: "
            "a webhook from another app, or the wrong profile"
        )
        if signing.verify_hex(expected, signature):
            return verdict
    candidates: list[tuple[str, bytes]] = []
    if body.endswith(b"\n"):
        candidates.append(("without its trailing newline", body.rstrip(b"\r\n")))
    else:
        candidates.append(("with a trailing newline", body + b"\n"))
    if body.startswith(b"\xef\xbb\xbf"):
        candidates.append(("without a byte-order mark", body[3:]))
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = ""
    for label, variant in _json_variants(text):
        candidates.append((f"re-serialised {label}", variant.encode()))
    for label, candidate in candidates:
        if webhooks.verify(secret, candidate, signature):
            verdict.causes.append(
                f"the signature is for the body {label}: verify the raw bytes as received, "
                "before any parsing or re-encoding"
            )
            return verdict
    verdict.causes.append("wrong secret (the webhook was signed by another app), or a changed body")
    return verdict
