"""``pushcli config add / list / show / use / remove / path``: profiles in the TOML file.

The file's format, validation and 0600 writing are pushcli.client.profiles; this module is
each command's rule, e.g. where ``config add`` takes the secret from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushcli.client import profiles
from pushcli.client.profiles import Settings
from pushcli.errors import ConfigError
from pushcli.server.apps import KEY_RE


@dataclass
class Added:
    name: str
    path: Path
    #: it became the default profile (asked for, or the first one)
    default: bool


@dataclass
class Profiles:
    #: one per profile, by name: name, default, app_id, key, server
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Shown:
    settings: Settings

    @property
    def located(self) -> bool:
        """A host or cluster is known, so the REST and WebSocket URLs are."""
        return bool(self.settings.host or self.settings.cluster)

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """(setting, value, where it came from) for what is set; secrets masked."""
        return [r for r in self.settings.rows() if r[1] or r[2]]


@dataclass
class Changed:
    """``use`` made ``name`` the default, or ``remove`` removed it."""

    name: str


def path(config: str | None) -> Path:
    """The config file: ``--config``, else PUSHCLI_CONFIG, else the user's config dir."""
    return profiles.config_path(config)


def add(
    config: str | None,
    name: str,
    *,
    app_id: str | None = None,
    key: str | None = None,
    cluster: str | None = None,
    host: str | None = None,
    port: int | None = None,
    scheme: str | None = None,
    stdin_lines: list[str] | None = None,
    secret_stdin: bool = False,
    master_key_stdin: bool = False,
    url_stdin: bool = False,
    prompt: Callable[[], str] | None = None,
    default: bool = False,
    force: bool = False,
    env: Mapping[str, str] | None = None,
) -> Added:
    """Add a profile. The secret: the URL on stdin, else stdin's first line, else
    PUSHER_APP_SECRET, else ``prompt`` (a terminal); the master key: the next stdin line,
    else PUSHER_ENCRYPTION_MASTER_KEY_BASE64."""
    environ = os.environ if env is None else env
    lines = iter(stdin_lines or ())
    values: dict[str, str] = {}
    if url_stdin:
        values.update(profiles.parse_pusher_url(next(lines, "")))
    given = {"app_id": app_id, "key": key, "cluster": cluster, "host": host, "scheme": scheme}
    values.update({k: v for k, v in given.items() if v})
    if cluster:
        values.pop("host", None)
    if host:
        values.pop("cluster", None)
    if port is not None:
        values["port"] = str(port)
    where = path(config)
    check_before_secret(where, name, values, force=force)
    if not url_stdin:
        if secret_stdin:
            values["secret"] = next(lines, "").strip()
        elif environ.get("PUSHER_APP_SECRET"):
            values["secret"] = environ["PUSHER_APP_SECRET"]
        elif prompt is not None:
            values["secret"] = prompt().strip()
        else:
            raise ConfigError(
                "no secret: use --secret-stdin, PUSHER_APP_SECRET, or run on a terminal"
            )
    if master_key_stdin:
        values["encryption_master_key"] = next(lines, "").strip()
    elif environ.get("PUSHER_ENCRYPTION_MASTER_KEY_BASE64"):
        values["encryption_master_key"] = environ["PUSHER_ENCRYPTION_MASTER_KEY_BASE64"]
    became_default = profiles.add_profile(where, name, values, make_default=default, force=force)
    return Added(name, where, became_default)


def check_before_secret(where: Path, name: str, values: dict[str, str], *, force: bool) -> None:
    """Everything ``config add`` can check without the secret, so that nobody types a secret
    into a prompt only to be told the cluster was misspelt: the name (and that it is free),
    host or cluster, port, scheme, the app id's and key's form, that the file can be written."""
    profiles.check_profile_name(name)
    _check_writable(where)
    if name in profiles.load_config(where).get("profiles", {}) and not force:
        raise ConfigError(f"profile {name!r} exists (use --force to replace it)")
    profiles.validate_profile({**values, "secret": values.get("secret") or "-"})
    for field_, label in (("app_id", "app id"), ("key", "app key")):
        if not KEY_RE.fullmatch(values[field_]):
            raise ConfigError(
                f"invalid {label} {values[field_]!r}: use letters, digits, '_', '.', '-'"
            )


def _check_writable(where: Path) -> None:
    """The config file can be written (atomically: a new file in its directory, renamed)."""
    target = Path(os.path.realpath(where))
    if target.is_dir():
        raise ConfigError(f"cannot write config {where}: it is a directory")
    directory = target.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent  # save_config creates the missing ones
    if not directory.is_dir():
        raise ConfigError(f"cannot write config {where}: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write config {where}: {directory} is not writable")


def list_profiles(config: str | None) -> Profiles:
    doc = profiles.load_config(path(config))
    default = doc.get("default")
    rows = []
    for name, p in sorted(doc.get("profiles", {}).items()):
        where = p.get(
            "cluster"
        ) or f"{p.get('scheme', 'http')}://{p.get('host')}:{p.get('port', '')}".rstrip(":")
        rows.append(
            {
                "name": name,
                "default": name == default,
                "app_id": str(p.get("app_id", "")),
                "key": p.get("key", ""),
                "server": where,
            }
        )
    return Profiles(rows)


def show(
    config: str | None,
    profile: str | None = None,
    *,
    flags: Mapping[str, str | None] | None = None,
) -> Shown:
    """Every resolved setting of ``profile`` (default: the one in use) and its source."""
    return Shown(
        profiles.resolve(flags=dict(flags or {}), profile=profile, config_file=config, hint=False)
    )


def use(config: str | None, name: str) -> Changed:
    profiles.use_profile(path(config), name)
    return Changed(name)


def remove(config: str | None, name: str) -> Changed:
    profiles.remove_profile(path(config), name)
    return Changed(name)
