"""The client side's I/O: settings and profiles, REST, the WebSocket shell, authorizers."""
