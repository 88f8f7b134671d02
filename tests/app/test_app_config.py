"""app/config.py: profile operations return what they did (a config file in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushcli.app import config
from pushcli.errors import ConfigError


def test_add_list_show_use_remove(tmp_path: Path) -> None:
    cfg = str(tmp_path / "c.toml")
    first = config.add(
        cfg,
        "dev",
        app_id="1",
        key="k1",
        host="127.0.0.1",
        port=6001,
        env={"PUSHER_APP_SECRET": "s3cret-dev-value"},
    )
    assert (first.name, first.path, first.default) == ("dev", Path(cfg), True)
    second = config.add(
        cfg,
        "prod",
        app_id="2",
        key="k2",
        cluster="eu",
        stdin_lines=["prod-secret-line", "ignored"],
        secret_stdin=True,
        env={},
    )
    assert not second.default
    listed = config.list_profiles(cfg)
    assert [(p["name"], p["default"], p["server"]) for p in listed.rows] == [
        ("dev", True, "http://127.0.0.1:6001"),
        ("prod", False, "eu"),
    ]
    shown = config.show(cfg, "prod")
    assert shown.located and shown.settings.secret == "prod-secret-line"
    secret_row = next(r for r in shown.rows if r[0] == "secret")
    assert "prod-secret-line" not in secret_row[1]  # masked
    assert config.use(cfg, "prod").name == "prod"
    assert [p["name"] for p in config.list_profiles(cfg).rows if p["default"]] == ["prod"]
    assert config.remove(cfg, "dev").name == "dev"
    assert [p["name"] for p in config.list_profiles(cfg).rows] == ["prod"]


def test_add_without_a_secret_source_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no secret"):
        config.add(str(tmp_path / "c.toml"), "x", app_id="1", key="k", cluster="eu", env={})
    asked: list[str] = []
    added = config.add(
        str(tmp_path / "c.toml"),
        "x",
        app_id="1",
        key="k",
        cluster="eu",
        env={},
        prompt=lambda: asked.append("?") or " typed-secret ",
    )
    assert asked == ["?"] and config.show(str(added.path), "x").settings.secret == "typed-secret"
