"""pushcli: a command-line tool for Pusher Channels and Pusher-compatible servers."""

__version__ = "0.1.0"
