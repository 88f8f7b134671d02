"""Packaging: the wheel that `pip install .`, `pipx install .` and `uv tool install .` build.

The slow tests build the wheel once (``pip wheel --no-deps``, from a copy of the source tree so
the work tree gets no build/ directory), check what it contains and declares, and install it
with its dependencies (from PyPI) into a fresh venv, where ``pushcli`` and ``python -m pushcli``
must run, report the package's version, and talk to a server.
"""

from __future__ import annotations

import ast
import email.parser
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pushcli"
RUNTIME = {"typer", "rich", "httpx", "websockets", "pynacl", "tomli-w", "h11"}
TEST_ONLY = {"pytest", "pusher"}
_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _source_version() -> str:
    text = (PACKAGE / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    assert match, "pushcli/__init__.py must define __version__"
    return match.group(1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the wheel, pip's build output)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE)
    proc = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "-v",
            "-w",
            str(tmp / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    wheels = list((tmp / "dist").glob("pushcli-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0], proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def metadata(built: tuple[Path, str]) -> email.message.Message:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode())


@pytest.fixture(scope="module")
def venv(built: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its declared dependencies, nothing else."""
    wheel, _ = built
    path = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)  # noqa: S603
    proc = subprocess.run(  # noqa: S603
        [
            str(path / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return path


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PUSHER_", "PUSHCLI_", "PYTHON"))
    }
    env["PUSHCLI_CONFIG"] = str(tmp / "none.toml")
    return env


# --------------------------------------------------------------------------- the wheel


@pytest.mark.slow
def test_wheel_contents(built: tuple[Path, str]) -> None:
    wheel, _ = built
    assert wheel.name == f"pushcli-{_source_version()}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(f"pushcli-{_source_version()}.dist-info/entry_points.txt").decode()
    assert "pushcli/py.typed" in names
    assert "pushcli/__main__.py" in names
    source = {
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert {n for n in source if n.startswith("pushcli/server/")}, "no server modules in the tree?"
    assert source <= names, f"modules missing from the wheel: {sorted(source - names)}"
    assert not [n for n in names if n.startswith(("tests/", "docs/", "benchmarks/"))]
    assert re.search(r"^\[console_scripts\]\s*\npushcli = pushcli\.cli:main$", entry_points, re.M)


@pytest.mark.slow
def test_metadata_declares_runtime_and_test_dependencies(metadata: email.message.Message) -> None:
    assert metadata["Name"] == "pushcli"
    assert metadata["Version"] == _source_version()
    assert metadata["Requires-Python"] == ">=3.11"
    runtime: dict[str, str] = {}
    extras: dict[str, set[str]] = {}
    for req in metadata.get_all("Requires-Dist") or []:
        spec, _, marker = req.partition(";")
        match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", spec)
        assert match, req
        name, version = _norm(match.group(1)), match.group(2).strip()
        extra = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)
        if extra:
            extras.setdefault(extra.group(1), set()).add(name)
        else:
            assert not marker.strip(), f"unexpected marker on a runtime dependency: {req}"
            runtime[name] = version
    assert RUNTIME <= set(runtime), f"runtime dependencies: {sorted(runtime)}"
    for name, version in runtime.items():
        assert re.search(r">=\s*\d", version), f"{name} needs a lower bound, has {version!r}"
    assert not TEST_ONLY & set(runtime), "test-only tools must not be runtime dependencies"
    assert TEST_ONLY <= extras.get("test", set()), f"the test extra: {extras.get('test')}"
    assert "test" in (metadata.get_all("Provides-Extra") or [])


@pytest.mark.slow
def test_wheel_builds_without_warnings(built: tuple[Path, str]) -> None:
    _, output = built
    noise = ("byte-compiling is disabled", "is ignored: it is neither a file nor a directory")
    warnings = [
        line.strip()
        for line in output.splitlines()
        if re.search(r"warning|deprecat", line, re.I) and not any(n in line for n in noise)
    ]
    assert not warnings, "\n".join(warnings)


# --------------------------------------------------------------------------- installed


@pytest.mark.slow
def test_installed_console_script_and_module_report_the_package_version(
    venv: Path, tmp_path: Path
) -> None:
    env = _clean_env(tmp_path)
    python, script = str(venv / "bin" / "python"), str(venv / "bin" / "pushcli")
    probe = subprocess.run(  # noqa: S603
        [
            python,
            "-c",
            "import importlib.metadata as m, pushcli, pathlib; "
            "print(m.version('pushcli')); print(pushcli.__file__); "
            "print((pathlib.Path(pushcli.__file__).parent / 'py.typed').exists())",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    version, location, typed = probe.stdout.split()
    assert version == _source_version()
    assert Path(location).is_relative_to(venv), f"pushcli imported from {location}, not the venv"
    assert typed == "True"
    for argv in ([script, "--version"], [script, "-V"], [python, "-m", "pushcli", "--version"]):
        out = subprocess.run(  # noqa: S603
            argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == f"pushcli {version}\n", argv
    helped = subprocess.run(  # noqa: S603
        [python, "-m", "pushcli", "--help"],
        env={**env, "COLUMNS": "120"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0 and "trigger" in helped.stdout, helped.stderr


@pytest.mark.slow
def test_installed_wheel_serves_triggers_and_listens(venv: Path, tmp_path: Path) -> None:
    """The declared dependencies are enough for the server, REST and WebSocket paths."""
    sys.path.insert(0, str(Path(__file__).parent))
    from servers import free_tcp_ports

    (port,) = free_tcp_ports(1)
    script = str(venv / "bin" / "pushcli")
    env = {
        **_clean_env(tmp_path),
        "PUSHER_APP_ID": "app-id",
        "PUSHER_APP_KEY": "app-key",
        "PUSHER_APP_SECRET": "app-secret",
        "PUSHER_HOST": "127.0.0.1",
        "PUSHER_PORT": str(port),
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }
    server = subprocess.Popen(  # noqa: S603
        [script, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = tmp_path / "ready"
        deadline = time.monotonic() + 15
        listener = None
        while listener is None:
            probe = subprocess.run(  # noqa: S603
                [script, "channels"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=30,
            )
            if probe.returncode == 0:
                listener = subprocess.Popen(  # noqa: S603
                    [
                        script,
                        "listen",
                        "orders",
                        "--count",
                        "1",
                        "--timeout",
                        "15",
                        "--ready-file",
                        str(ready),
                    ],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            elif time.monotonic() > deadline:
                pytest.fail(f"pushcli serve did not come up: {probe.stderr}")
            else:
                time.sleep(0.1)
        while not ready.exists() and listener.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = subprocess.run(  # noqa: S603
            [script, "trigger", "orders", "created", '{"id": 1}'],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert sent.returncode == 0, sent.stderr
        out, err = listener.communicate(timeout=20)
        assert listener.returncode == 0, err
        line = json.loads(out.splitlines()[0])
        assert (line["event"], line["data"]) == ("created", {"id": 1}), out
    finally:
        server.terminate()
        server.wait(timeout=10)


# --------------------------------------------------------------------------- fast checks


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "pushcli"}


def test_every_imported_distribution_is_declared() -> None:
    """A module pushcli imports must come from a runtime dependency (as h11 once did not)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    import tomllib

    declared = {
        _norm(re.match(r"[A-Za-z0-9_.\-]+", d).group(0))  # type: ignore[union-attr]
        for d in tomllib.loads(pyproject)["project"]["dependencies"]
    }
    owners = importlib.metadata.packages_distributions()
    missing = {}
    for module in sorted(_third_party_imports()):
        dists = {_norm(d) for d in owners.get(module, [])}
        assert dists, f"pushcli imports {module!r}, which no installed distribution provides"
        if not dists & declared:
            missing[module] = sorted(dists)
    assert not missing, f"imported but not declared in [project.dependencies]: {missing}"


def test_test_tools_are_not_runtime_dependencies() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_norm(re.match(r"[A-Za-z0-9_.\-]+", d).group(0)) for d in project["dependencies"]}  # type: ignore[union-attr]
    test = {
        _norm(re.match(r"[A-Za-z0-9_.\-]+", d).group(0))
        for d in project["optional-dependencies"]["test"]
    }  # type: ignore[union-attr]
    assert not TEST_ONLY & runtime
    assert TEST_ONLY <= test
