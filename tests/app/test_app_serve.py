"""app/serve.py: where `pushcli serve` listens and which apps it serves (pure parts)."""

from __future__ import annotations

import pytest

from pushcli.app import serve
from pushcli.client.profiles import Settings
from pushcli.errors import ConfigError

APP = Settings(app_id="1", key="k", secret="s", host="127.0.0.2", port=7000)


def test_address_follows_loopback_settings_and_flags_win() -> None:
    assert serve.address(APP, None, None) == ("127.0.0.2", 7000)
    assert serve.address(APP, "127.0.0.3", 0) == ("127.0.0.3", 0)
    elsewhere = Settings(app_id="1", key="k", secret="s", host="push.example.com", port=443)
    assert serve.address(elsewhere, None, None) == ("127.0.0.1", 6001)


def test_app_list_is_the_settings_app_or_the_specs_not_both() -> None:
    [only] = serve.app_list(APP)
    assert (only.id, only.key, only.client_events) == ("1", "k", True)
    [quiet] = serve.app_list(APP, client_events=False)
    assert not quiet.client_events
    with pytest.raises(ConfigError, match="not both"):
        serve.app_list(APP, specs=["2:k2"], given_app=True)
