"""One function per command, returning typed results; used by cli/ and api.py."""
