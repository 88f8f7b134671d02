#!/usr/bin/env bash
# The one command that sets up and runs pushcli's whole test suite:
#
#     bash tests/run.sh [pytest arguments...]
#
# Needs only Python >= 3.11 (python3), Node 20 and npm. It
#   1. creates .venv if missing and installs the package with its `test` extra
#      (again whenever pyproject.toml changed, or when PUSHCLI_TEST_REINSTALL=1);
#   2. installs tests/soketi/node_modules (npm ci from the committed lock file) when it is
#      missing or does not match the lock file;
#   3. runs `.venv/bin/python -m pytest "$@"`. A run that collects no tests is a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'tests/run.sh: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- Python
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "need Python >= 3.11 as '$PYTHON' (set PYTHON=... to choose another)"
    exit 1
  fi
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.pushcli-test-install
want="$(.venv/bin/python -c 'import hashlib, sys; print(sys.version, hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
if [ "${PUSHCLI_TEST_REINSTALL:-}" = 1 ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
   || ! .venv/bin/python -c 'import pushcli, pytest, pusher' >/dev/null 2>&1; then
  say "installing pushcli and its test extra into .venv"
  rm -f "$stamp"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  printf '%s\n' "$want" > "$stamp"
fi

# ---------------------------------------------------------------- soketi (Node)
soketi_dir=tests/soketi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  say "node/npm not found: the soketi tests will be skipped (and fail when CI is set)"
else
  stale=""
  if [ ! -d "$soketi_dir/node_modules" ]; then
    stale="node_modules is missing"
  elif [ -f "$soketi_dir/package-lock.json" ]; then
    # npm keeps what it installed in node_modules/.package-lock.json: every package of the
    # lock file must be there at the same version (optional ones, e.g. for other platforms,
    # and extraneous ones, which npm ci skips, excepted), and nothing else.
    if ! stale="$(cd "$soketi_dir" && node -e '
      const fs = require("fs");
      let lock, hidden;
      try { lock = JSON.parse(fs.readFileSync("package-lock.json")).packages || {}; }
      catch (e) { console.log("package-lock.json unreadable"); process.exit(0); }
      try { hidden = JSON.parse(fs.readFileSync("node_modules/.package-lock.json")).packages || {}; }
      catch (e) { console.log("node_modules/.package-lock.json missing"); process.exit(0); }
      for (const [name, p] of Object.entries(lock)) {
        if (name === "") continue;
        const h = hidden[name];
        const mayBeAbsent = p.optional || p.extraneous || p.dev || p.devOptional || p.peer;
        if (!h) { if (!mayBeAbsent) { console.log(name + " not installed"); process.exit(0); } continue; }
        if (h.version !== p.version) { console.log(name + " is " + h.version + ", lock says " + p.version); process.exit(0); }
      }
      for (const name of Object.keys(hidden)) {
        if (!(name in lock)) { console.log(name + " installed but not in the lock file"); process.exit(0); }
      }
      if (!fs.existsSync("node_modules/@soketi/soketi/bin/server.js")) console.log("soketi missing");
    ')"; then
      stale="could not compare node_modules with the lock file"
    fi
  fi
  if [ -n "$stale" ]; then
    say "installing $soketi_dir/node_modules ($stale)"
    if [ -f "$soketi_dir/package-lock.json" ]; then
      (cd "$soketi_dir" && npm ci --no-audit --no-fund)
    else
      (cd "$soketi_dir" && npm install --no-audit --no-fund)
    fi
  fi
fi

# ---------------------------------------------------------------- pytest
rc=0
.venv/bin/python -m pytest "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  say "pytest collected no tests: a run with no tests is a broken run"
  exit 1
fi
exit "$rc"
