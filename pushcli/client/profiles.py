"""Settings: TOML profiles, environment variables and PUSHER_URL, with provenance.

Precedence for every value: flag > environment > selected profile > defaults. ``PUSHER_URL``
sits just below the individual ``PUSHER_*`` variables. With nothing configured at all, pushcli
talks to a local server with soketi's default app (the embedded ``pushcli serve``).
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pushcli.errors import ConfigError
from pushcli.protocol import limits

FIELDS = ("app_id", "key", "secret", "cluster", "host", "port", "scheme", "encryption_master_key")
SECRET_FIELDS = ("secret", "encryption_master_key")
ENV_VARS = {
    "app_id": "PUSHER_APP_ID",
    "key": "PUSHER_APP_KEY",
    "secret": "PUSHER_APP_SECRET",
    "cluster": "PUSHER_APP_CLUSTER",
    "host": "PUSHER_HOST",
    "port": "PUSHER_PORT",
    "scheme": "PUSHER_SCHEME",
    "encryption_master_key": "PUSHER_ENCRYPTION_MASTER_KEY_BASE64",
}
LOCAL_DEFAULT = {
    "app_id": "app-id",
    "key": "app-key",
    "secret": "app-secret",
    "host": "127.0.0.1",
    "port": "6001",
    "scheme": "http",
}
CLUSTER_RE = re.compile(r"\A[a-z0-9-]+\Z")
PROFILE_NAME_RE = re.compile(r"\A[A-Za-z0-9_.-]+\Z")
_warned_paths: set[str] = set()


def default_config_path() -> Path:
    from typer import get_app_dir

    return Path(get_app_dir("pushcli")) / "config.toml"


def config_path(
    override: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    env = os.environ if env is None else env
    if override:
        return Path(override).expanduser()
    if env.get("PUSHCLI_CONFIG"):
        return Path(env["PUSHCLI_CONFIG"]).expanduser()
    return default_config_path()


def mask(value: str | None) -> str:
    """The last 4 characters only (enough to tell secrets apart); short values fully masked.

    First 4 + last 4 of a 20-character Pusher secret would leave only 12 unknown hex digits.
    """
    if not value:
        return ""
    if len(value) <= 12:
        return "*" * len(value)
    return f"…{value[-4:]}"


# --- the config file -------------------------------------------------------------------------


def load_config(path: Path) -> dict[str, Any]:
    """Read the config file; a missing file is an empty config."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"invalid config {path}: {e}") from None
    _warn_if_readable(path)
    profiles = doc.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise ConfigError(f"invalid config {path}: [profiles.NAME] must be tables")
    return doc


def _warn_if_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and str(path) not in _warned_paths:
        _warned_paths.add(str(path))
        print(
            f"warning: {path} is readable by other users; run: chmod 600 {path}",
            file=sys.stderr,
        )


def save_config(path: Path, doc: dict[str, Any]) -> None:
    """Write atomically (temp file + rename), file 0600, directory 0700.

    A config path that is a symlink stays one: the link's target is written (the temp file
    goes next to the target, so the rename replaces the target, not the link). pushcli's own
    config directory is tightened to 0700 if others can enter it. An OS error (a directory
    without write permission, a path under a file) is a ConfigError, not a traceback.
    """
    import tomli_w

    text = tomli_w.dumps(doc)
    target = Path(os.path.realpath(path))  # the file a symlink (chain) points to, or path
    where = f"{path} (a link to {target})" if path.is_symlink() else str(path)
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _tighten_own_dir(path.parent)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise ConfigError(f"cannot write config {where}: {e.strerror or e}") from None


def _tighten_own_dir(directory: Path) -> None:
    """pushcli's own config directory (not one chosen with --config) is kept 0700."""
    try:
        own = directory.resolve() == default_config_path().parent.resolve()
        st = directory.stat()
    except OSError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if not own or not mode & 0o077 or st.st_uid != os.geteuid():
        return
    try:
        os.chmod(directory, 0o700)
    except OSError:
        return  # e.g. a read-only file system: writing the 0600 file is still right
    print(
        f"pushcli: {directory} was mode {mode:o}, open to other users; tightened it to 700",
        file=sys.stderr,
    )


def parse_pusher_url(url: str) -> dict[str, str]:
    """``http[s]://KEY:SECRET@HOST[:PORT]/apps/APP_ID`` → settings fields."""
    parts = urlsplit(url.strip())
    m = re.fullmatch(r"/apps/([^/]+)/?", parts.path or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or not m:
        raise ConfigError("PUSHER_URL must look like https://KEY:SECRET@HOST[:PORT]/apps/APP_ID")
    if not parts.username or not parts.password:
        raise ConfigError("PUSHER_URL lacks KEY:SECRET@ before the host")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("PUSHER_URL has an invalid port") from None
    out = {
        "scheme": parts.scheme,
        "key": unquote(parts.username),
        "secret": unquote(parts.password),
        "app_id": unquote(m.group(1)),
    }
    cluster = re.fullmatch(r"api-([a-z0-9-]+)\.pusher\.com", parts.hostname)
    if cluster:
        out["cluster"] = cluster.group(1)
    else:
        out["host"] = parts.hostname
    if port is not None:
        out["port"] = str(port)
    return out


# --- resolution ------------------------------------------------------------------------------


@dataclass
class Settings:
    app_id: str | None = None
    key: str | None = None
    secret: str | None = None
    cluster: str | None = None
    host: str | None = None
    port: int | None = None
    scheme: str = "https"
    encryption_master_key: str | None = None
    profile: str | None = None
    config_file: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)
    local_default: bool = False

    @property
    def rest_host(self) -> str:
        return self.host if self.host else f"api-{self.cluster}.pusher.com"

    @property
    def ws_host(self) -> str:
        return self.host if self.host else f"ws-{self.cluster}.pusher.com"

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 443 if self.scheme == "https" else 80

    def _netloc(self, host: str) -> str:
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        default = 443 if self.scheme == "https" else 80
        port = self.effective_port
        return host if port == default else f"{host}:{port}"

    @property
    def rest_base(self) -> str:
        return f"{self.scheme}://{self._netloc(self.rest_host)}"

    @property
    def ws_base(self) -> str:
        ws = "wss" if self.scheme == "https" else "ws"
        return f"{ws}://{self._netloc(self.ws_host)}"

    @property
    def server_label(self) -> str:
        return self.rest_base if self.host else f"pusher.com cluster {self.cluster}"

    @property
    def max_data_bytes(self) -> int:
        if self.host:
            return limits.SELF_HOSTED_MAX_DATA_BYTES
        return limits.PUSHER_MAX_DATA_BYTES

    def require(self, *names: str) -> Settings:
        missing = [n for n in names if n != "location" and not getattr(self, n)]
        if "location" in names and not (self.host or self.cluster):
            missing.append("cluster or host")
        if missing:
            where = f"profile {self.profile!r}" if self.profile else "the environment"
            env = ", ".join(ENV_VARS.get(m, "PUSHER_APP_CLUSTER/PUSHER_HOST") for m in missing)
            raise ConfigError(
                f"missing {', '.join(missing)} in {where} (set {env}, or use 'pushcli config add')"
            )
        return self

    def rows(self) -> list[tuple[str, str, str]]:
        """(field, display value, source) for ``config show``; secrets masked."""
        out = []
        for name in FIELDS:
            value = getattr(self, name)
            shown = "" if value is None else str(value)
            if name in SECRET_FIELDS:
                shown = mask(shown)
            out.append((name, shown, self.sources.get(name, "")))
        return out


def _env_layer(env: Mapping[str, str]) -> dict[str, str]:
    return {f: env[v] for f, v in ENV_VARS.items() if env.get(v, "").strip()}


def resolve(
    *,
    flags: Mapping[str, str | None] | None = None,
    profile: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    hint: bool = True,
) -> Settings:
    """Resolve settings from flags, environment, the selected profile and defaults."""
    env = os.environ if env is None else env
    path = config_path(config_file, env)
    doc = load_config(path)
    profiles: dict[str, dict[str, Any]] = doc.get("profiles", {})

    name, name_source = None, ""
    if profile:
        name, name_source = profile, "--profile"
    elif env.get("PUSHCLI_PROFILE"):
        name, name_source = env["PUSHCLI_PROFILE"], "PUSHCLI_PROFILE"
    elif doc.get("default"):
        name, name_source = str(doc["default"]), f"default in {path}"
    if name is not None and name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"unknown profile {name!r} (from {name_source}; known: {known})")

    layers: list[tuple[str, dict[str, str]]] = []
    flag_values = {k: str(v) for k, v in (flags or {}).items() if v not in (None, "")}
    layers.append(("flag", flag_values))
    layers.append(("env", _env_layer(env)))
    if env.get("PUSHER_URL", "").strip():
        layers.append(("env PUSHER_URL", parse_pusher_url(env["PUSHER_URL"])))
    if name is not None:
        values = {k: str(v) for k, v in profiles[name].items() if k in FIELDS and v != ""}
        layers.append((f"profile {name}", values))

    settings = Settings(profile=name, config_file=path)
    given = {f for _, values in layers for f in values}
    host = next((values["host"] for _, values in layers if "host" in values), None)
    if not given & {"app_id", "key", "secret", "cluster"} and (host is None or _is_loopback(host)):
        # Nothing names an app: the local server's default app, wherever host/port/scheme
        # (if given) put it, e.g. PUSHER_PORT=6002 for `pushcli serve --port 6002`.
        settings.local_default = True
        layers.append(("default (local server)", dict(LOCAL_DEFAULT)))
        if hint:
            where = f"{host or LOCAL_DEFAULT['host']}:{next((v['port'] for _, v in layers if 'port' in v))}"
            print(
                f"pushcli: no app configured; using the local server's default app at {where} "
                "(start one with 'pushcli serve')",
                file=sys.stderr,
            )

    chosen: dict[str, tuple[str, int]] = {}
    for rank, (label, values) in enumerate(layers):
        for f, v in values.items():
            if f not in chosen:
                chosen[f] = (v, rank)
                src = label
                if label == "flag":
                    src = f"flag --{f.replace('_', '-')}"
                elif label == "env":
                    src = f"env {ENV_VARS[f]}"
                settings.sources[f] = src

    # host and cluster: the higher-precedence layer wins; within one layer host wins.
    if "host" in chosen and "cluster" in chosen:
        if chosen["cluster"][1] < chosen["host"][1]:
            del chosen["host"]
            settings.sources.pop("host")
        else:
            del chosen["cluster"]
            settings.sources.pop("cluster")

    values = {f: v for f, (v, _) in chosen.items()}
    settings.app_id = values.get("app_id")
    settings.key = values.get("key")
    settings.secret = values.get("secret")
    settings.encryption_master_key = values.get("encryption_master_key")
    settings.host = values.get("host")
    settings.cluster = values.get("cluster")
    if settings.cluster and not CLUSTER_RE.fullmatch(settings.cluster):
        raise ConfigError(f"invalid cluster {settings.cluster!r} (e.g. mt1, eu, ap2)")
    if "port" in values:
        try:
            settings.port = int(values["port"])
        except ValueError:
            raise ConfigError(
                f"invalid port {values['port']!r} ({settings.sources['port']})"
            ) from None
        if not 0 < settings.port < 65536:
            raise ConfigError(f"invalid port {settings.port} ({settings.sources['port']})")
    scheme = values.get("scheme")
    if scheme is None:
        scheme = "https" if not settings.host or settings.port == 443 else "http"
        settings.sources["scheme"] = "default"
    if scheme not in ("http", "https"):
        raise ConfigError(f"invalid scheme {scheme!r}: use http or https")
    settings.scheme = scheme
    return settings


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME_RE.fullmatch(name):
        raise ConfigError(f"invalid profile name {name!r}: use letters, digits, '_', '.', '-'")
    return name


# --- editing the config file -----------------------------------------------------------------


def validate_profile(values: dict[str, str]) -> dict[str, Any]:
    """Check a new profile's fields; return what is written to the file."""
    out: dict[str, Any] = {}
    for f in ("app_id", "key", "secret"):
        if not values.get(f):
            raise ConfigError(f"a profile needs {f.replace('_', '-')}")
        out[f] = values[f]
    if values.get("cluster") and values.get("host"):
        raise ConfigError("give either --cluster or --host, not both")
    if values.get("cluster"):
        if not CLUSTER_RE.fullmatch(values["cluster"]):
            raise ConfigError(f"invalid cluster {values['cluster']!r} (e.g. mt1, eu, ap2)")
        out["cluster"] = values["cluster"]
    elif values.get("host"):
        out["host"] = values["host"]
    else:
        raise ConfigError("a profile needs --cluster (Pusher) or --host (self-hosted)")
    if values.get("port"):
        try:
            port = int(values["port"])
        except ValueError:
            raise ConfigError(f"invalid port {values['port']!r}") from None
        if not 0 < port < 65536:
            raise ConfigError(f"invalid port {port}")
        out["port"] = port
    if values.get("scheme"):
        if values["scheme"] not in ("http", "https"):
            raise ConfigError(f"invalid scheme {values['scheme']!r}: use http or https")
        out["scheme"] = values["scheme"]
    if values.get("encryption_master_key"):
        from pushcli.protocol.crypto import decode_master_key

        decode_master_key(values["encryption_master_key"])
        out["encryption_master_key"] = values["encryption_master_key"].strip()
    return out


def add_profile(
    path: Path, name: str, values: dict[str, str], *, make_default: bool, force: bool
) -> bool:
    """Add (or with ``force`` replace) a profile; returns True when it became the default."""
    check_profile_name(name)
    profile = validate_profile(values)
    doc = load_config(path)
    profiles = doc.setdefault("profiles", {})
    if name in profiles and not force:
        raise ConfigError(f"profile {name!r} exists (use --force to replace it)")
    profiles[name] = profile
    became_default = make_default or not doc.get("default")
    if became_default:
        doc["default"] = name
    save_config(path, _ordered(doc))
    return became_default


def remove_profile(path: Path, name: str) -> None:
    doc = load_config(path)
    if name not in doc.get("profiles", {}):
        raise ConfigError(f"unknown profile {name!r}")
    del doc["profiles"][name]
    if doc.get("default") == name:
        del doc["default"]
    save_config(path, _ordered(doc))


def use_profile(path: Path, name: str) -> None:
    doc = load_config(path)
    if name not in doc.get("profiles", {}):
        known = ", ".join(sorted(doc.get("profiles", {}))) or "none"
        raise ConfigError(f"unknown profile {name!r} (known: {known})")
    doc["default"] = name
    save_config(path, _ordered(doc))


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    """``default`` first, then profiles, then anything else the user put there."""
    out: dict[str, Any] = {}
    if "default" in doc:
        out["default"] = doc["default"]
    for k, v in doc.items():
        if k not in ("default", "profiles"):
            out[k] = v
    out["profiles"] = doc.get("profiles", {})
    return out
