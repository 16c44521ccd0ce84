"""The resilient Spot connector: orders without loss or duplication, a budget that keeps it unbanned,
clock sync, safe retries. See `SpotConnector`."""
