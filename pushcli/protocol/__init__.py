"""Pure Pusher knowledge: no I/O, no settings, no printing."""
