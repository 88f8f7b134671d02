"""Settings resolution, provenance, PUSHER_URL, and the config file on disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pushcli.client import profiles
from pushcli.errors import ConfigError

PROFILE = {"app_id": "1", "key": "pk", "secret": "psecret-123456", "cluster": "eu"}


def write(path: Path, doc: dict) -> None:
    profiles.save_config(path, doc)


def test_nothing_configured_means_the_local_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = profiles.resolve(config_file=tmp_path / "c.toml", env={})
    assert s.local_default
    assert (s.app_id, s.key, s.secret) == ("app-id", "app-key", "app-secret")
    assert s.rest_base == "http://127.0.0.1:6001" and s.ws_base == "ws://127.0.0.1:6001"
    assert "127.0.0.1:6001" in capsys.readouterr().err


def test_precedence_flag_env_profile(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    write(path, {"default": "p", "profiles": {"p": dict(PROFILE)}})
    env = {"PUSHER_APP_KEY": "envkey"}
    s = profiles.resolve(config_file=path, env=env, flags={"app_id": "flagid"})
    assert (s.app_id, s.key, s.secret, s.cluster) == ("flagid", "envkey", "psecret-123456", "eu")
    assert s.sources["app_id"] == "flag --app-id"
    assert s.sources["key"] == "env PUSHER_APP_KEY"
    assert s.sources["secret"] == "profile p"
    assert s.rest_base == "https://api-eu.pusher.com"
    assert s.ws_base == "wss://ws-eu.pusher.com"


def test_env_host_overrides_profile_cluster_and_same_layer_host_wins(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    write(path, {"default": "p", "profiles": {"p": dict(PROFILE)}})
    s = profiles.resolve(config_file=path, env={"PUSHER_HOST": "127.0.0.1", "PUSHER_PORT": "6001"})
    assert s.host == "127.0.0.1" and s.cluster is None and s.scheme == "http"
    # Laravel's .env often has both; the host wins within one layer.
    s = profiles.resolve(
        config_file=path,
        env={
            "PUSHER_HOST": "ws.example.test",
            "PUSHER_APP_CLUSTER": "mt1",
            "PUSHER_SCHEME": "https",
        },
    )
    assert s.host == "ws.example.test" and s.rest_base == "https://ws.example.test"


def test_empty_env_values_are_unset(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    write(path, {"default": "p", "profiles": {"p": dict(PROFILE)}})
    s = profiles.resolve(config_file=path, env={"PUSHER_HOST": "", "PUSHER_APP_KEY": " "})
    assert s.cluster == "eu" and s.key == "pk"


def test_pusher_url(tmp_path: Path) -> None:
    env = {"PUSHER_URL": "http://k%40:s%2F@127.0.0.1:6001/apps/my-app"}
    s = profiles.resolve(config_file=tmp_path / "c.toml", env=env)
    assert (s.key, s.secret, s.app_id, s.host, s.port, s.scheme) == (
        "k@",
        "s/",
        "my-app",
        "127.0.0.1",
        6001,
        "http",
    )
    assert s.sources["secret"] == "env PUSHER_URL"
    s = profiles.resolve(
        config_file=tmp_path / "c.toml",
        env={"PUSHER_URL": "https://k:s@api-ap2.pusher.com/apps/9", "PUSHER_APP_ID": "10"},
    )
    assert (s.cluster, s.app_id) == ("ap2", "10")
    for bad in [
        "ftp://k:s@h/apps/1",
        "http://h/apps/1",
        "http://k:s@h/nope",
        "http://k:s@h:99999/apps/1",
    ]:
        with pytest.raises(ConfigError):
            profiles.resolve(config_file=tmp_path / "c.toml", env={"PUSHER_URL": bad})


def test_unknown_profile_and_missing_credentials(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    write(path, {"profiles": {"p": {"app_id": "1", "key": "k", "cluster": "eu"}}})
    with pytest.raises(ConfigError, match="unknown profile 'nope'.*known: p"):
        profiles.resolve(config_file=path, env={}, profile="nope")
    with pytest.raises(ConfigError, match="PUSHCLI_PROFILE"):
        profiles.resolve(config_file=path, env={"PUSHCLI_PROFILE": "nope"})
    s = profiles.resolve(config_file=path, env={}, profile="p")
    with pytest.raises(ConfigError, match="missing secret.*PUSHER_APP_SECRET"):
        s.require("app_id", "key", "secret", "location")


@pytest.mark.parametrize(
    "env",
    [
        {"PUSHER_PORT": "x", "PUSHER_HOST": "h"},
        {"PUSHER_SCHEME": "ftp", "PUSHER_HOST": "h"},
        {"PUSHER_APP_CLUSTER": "EU!"},
    ],
)
def test_invalid_values(tmp_path: Path, env: dict) -> None:
    with pytest.raises(ConfigError):
        profiles.resolve(config_file=tmp_path / "c.toml", env=env)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("default = [")
    with pytest.raises(ConfigError, match="invalid config"):
        profiles.resolve(config_file=path, env={})


def test_save_is_atomic_private_and_warns_when_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sub" / "config.toml"
    profiles.add_profile(path, "p", dict(PROFILE), make_default=False, force=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]
    doc = profiles.load_config(path)
    assert doc["default"] == "p"  # the first profile becomes the default
    assert capsys.readouterr().err == ""
    os.chmod(path, 0o644)
    profiles._warned_paths.clear()
    profiles.load_config(path)
    profiles.load_config(path)
    assert capsys.readouterr().err.count("readable by other users") == 1


def test_add_use_remove(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    profiles.add_profile(path, "a", dict(PROFILE), make_default=False, force=False)
    profiles.add_profile(
        path,
        "b",
        {**PROFILE, "cluster": "", "host": "h", "port": "1"},
        make_default=False,
        force=False,
    )
    assert profiles.load_config(path)["default"] == "a"
    with pytest.raises(ConfigError, match="exists"):
        profiles.add_profile(path, "a", dict(PROFILE), make_default=False, force=False)
    profiles.use_profile(path, "b")
    assert profiles.load_config(path)["default"] == "b"
    profiles.remove_profile(path, "b")
    doc = profiles.load_config(path)
    assert "default" not in doc and list(doc["profiles"]) == ["a"]
    with pytest.raises(ConfigError):
        profiles.use_profile(path, "zzz")


@pytest.mark.parametrize(
    "values",
    [
        {"key": "k", "secret": "s", "cluster": "eu"},
        {"app_id": "1", "key": "k", "secret": "s"},
        {"app_id": "1", "key": "k", "secret": "s", "cluster": "eu", "host": "h"},
        {**PROFILE, "port": "0"},
        {**PROFILE, "encryption_master_key": "c2hvcnQ="},
    ],
)
def test_invalid_profiles_are_refused(tmp_path: Path, values: dict) -> None:
    with pytest.raises(ConfigError):
        profiles.add_profile(tmp_path / "c.toml", "p", values, make_default=False, force=False)
    assert not (tmp_path / "c.toml").exists()


def test_mask() -> None:
    assert profiles.mask("abcdefghijklmnop") == "…mnop"  # the last 4 only
    assert profiles.mask("short") == "*****"
    assert profiles.mask(None) == ""


def test_local_default_fills_around_a_loopback_host_or_port(tmp_path: Path) -> None:
    s = profiles.resolve(config_file=tmp_path / "c.toml", env={"PUSHER_PORT": "6002"}, hint=False)
    assert s.local_default and (s.app_id, s.key, s.secret) == ("app-id", "app-key", "app-secret")
    assert s.rest_base == "http://127.0.0.1:6002" and s.sources["port"] == "env PUSHER_PORT"
    s = profiles.resolve(
        config_file=tmp_path / "c.toml", env={}, flags={"host": "localhost"}, hint=False
    )
    assert s.local_default and s.rest_base == "http://localhost:6001"
    # A remote host, or any credential, means a real app: no made-up defaults.
    s = profiles.resolve(
        config_file=tmp_path / "c.toml", env={"PUSHER_HOST": "ws.example.test"}, hint=False
    )
    assert not s.local_default and s.secret is None
    s = profiles.resolve(config_file=tmp_path / "c.toml", env={"PUSHER_APP_KEY": "k"}, hint=False)
    assert not s.local_default and s.secret is None
