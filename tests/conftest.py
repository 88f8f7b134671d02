"""Shared pytest fixtures for pushcli's tests.

* every test gets an isolated config (``PUSHCLI_CONFIG`` in tmp_path, no ``PUSHER_*`` or
  ``PUSHCLI_PROFILE`` from the developer's environment, no HTTP proxies for loopback);
* ``soketi``: one loopback soketi for the whole session;
* ``soketi_restartable``: a private soketi for one test, which may ``stop()`` / ``start()``
  it on the same port;
* ``soketi_env``: ``soketi.env()`` applied to os.environ for the test;
* ``embedded`` / ``embedded_restartable``: the same for ``pushcli serve``;
* ``pusher_server`` / ``pusher_server_env``: parametrized over soketi and ``pushcli serve``.

When soketi cannot be started because node or tests/soketi/node_modules is missing, the
tests that need it are skipped locally and fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import servers` from any rootdir

from servers import EmbeddedServer, Soketi, SoketiUnavailable, check_soketi_available  # noqa: E402

SOKETI_FIXTURES = {"soketi", "soketi_restartable", "soketi_env"}
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soketi: needs the local soketi server (Node)")
    config.addinivalue_line("markers", "slow: slower test (restarts servers, waits for timeouts)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that use a soketi fixture are marked automatically, so `-m "not soketi"` works;
    # so are the soketi cases of tests parametrized by fixture name (pusher_server's "soketi").
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        named = {v for v in params.values() if isinstance(v, str)}
        if SOKETI_FIXTURES & (set(getattr(item, "fixturenames", ())) | named):
            item.add_marker(pytest.mark.soketi)


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never let a test see the developer's real pushcli config or Pusher credentials."""
    config_path = tmp_path / "config.toml"
    for name in list(os.environ):
        if name.startswith("PUSHER_") or name == "PUSHCLI_PROFILE":
            monkeypatch.delenv(name, raising=False)
        elif name.lower() in _PROXY_VARS:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUSHCLI_CONFIG", str(config_path))
    # Loopback traffic must never go through a proxy (httpx, requests and websockets
    # all honour these variables).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,::1")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost,::1")
    return config_path


def _soketi_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"soketi unavailable on CI: {reason}", pytrace=False)
    pytest.skip(f"soketi unavailable: {reason}")


def _start_soketi(log_dir: Path) -> Soketi:
    try:
        check_soketi_available()
    except SoketiUnavailable as exc:
        _soketi_unavailable(str(exc))
    return Soketi(log_dir).start()


@pytest.fixture(scope="session")
def soketi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Soketi]:
    """One soketi on 127.0.0.1 for the whole session. Do not stop it in a test."""
    server = _start_soketi(tmp_path_factory.mktemp("soketi"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def soketi_restartable(tmp_path: Path) -> Iterator[Soketi]:
    """A soketi of this test's own; ``stop()`` then ``start()`` keeps the same port."""
    server = _start_soketi(tmp_path / "soketi")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def soketi_env(soketi: Soketi, monkeypatch: pytest.MonkeyPatch) -> Soketi:
    """The session soketi, with its PUSHER_* variables set in os.environ for this test."""
    for name, value in soketi.env().items():
        monkeypatch.setenv(name, value)
    return soketi


# --------------------------------------------------------------------------- pushcli serve


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """One ``pushcli serve`` (subprocess) on 127.0.0.1 for the session, with soketi's test app
    (123456 / app-key / app-secret) and the same attributes and methods as ``soketi``."""
    server = EmbeddedServer(tmp_path_factory.mktemp("embedded")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def embedded_restartable(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A ``pushcli serve`` of this test's own; ``stop()`` then ``start()`` keeps the same port."""
    server = EmbeddedServer(tmp_path / "embedded").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["soketi", "embedded"], ids=["soketi", "embedded"])
def pusher_server(request: pytest.FixtureRequest) -> Soketi:
    """The server under test: soketi, then ``pushcli serve`` (same app, same API)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def pusher_server_env(pusher_server: Soketi, monkeypatch: pytest.MonkeyPatch) -> Soketi:
    """``pusher_server`` with its PUSHER_* variables set in os.environ for this test."""
    for name, value in pusher_server.env().items():
        monkeypatch.setenv(name, value)
    return pusher_server
