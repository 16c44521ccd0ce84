"""I/O at the edge: REST and WebSocket transports. They carry bytes, sign requests and hand every
failure to binguard.errors.classify(); decisions live in binguard.policy."""
