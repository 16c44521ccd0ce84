"""`make soak`: a bounded, seeded soak of binguard under faults, with one table and a PNG report.

Parts (each with its invariant; counts are options of `python -m soak`, see `--help`):
  orders-rest  orders over REST with 10 % execution-unknown faults plus resets before execution
  orders-ws    the same over the WebSocket API
  kill9        an order-placing child killed with SIGKILL, then `recover()`, N times
  fleet        4 processes on one Redis budget, Redis killed and restarted
  hostile      hostile HTTP and WebSocket input to the simulator, to `classify()` and to the doctor

Not part of `make test`: it runs for minutes. Nothing leaves loopback.
"""
