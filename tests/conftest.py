"""Shared test fixtures. Tests talk to real parts over loopback: the simulator and a real redis-server."""
