"""`binguard gateway`: run the gateway until SIGTERM/SIGINT, then drain and stop.

Every flag is also a config-file key (`--config FILE`, YAML or JSON); a flag given on the command
line wins over the file. A setting that cannot be used is answered with one line, exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from rich.console import Console
from rich.logging import RichHandler

from binguard._aio import reap
from binguard.connector.journal import JournalError, OrderJournal

from . import dashboard
from .app import Gateway
from .config import PRESETS, ConfigError, GatewayConfig
from .keys import KeyRing, KeysFileError, keygen_files

HELP = "run a local endpoint that keeps any bot's Binance traffic within limits and unbanned"

# flag -> (config field, type, help); every field of GatewayConfig is here
_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--upstream", "upstream", str, "upstream REST base URL (default: the preset's)"),
    ("--stream-upstream", "stream_upstream", str, "market streams base URL (ws/wss)"),
    ("--ws-api-upstream", "ws_api_upstream", str, "WebSocket API URL (ws/wss)"),
    ("--proxy", "proxy", str, "http:// or socks5(h):// proxy for all upstream traffic"),
    ("--preset", "preset", str, f"upstream hosts: {', '.join(PRESETS)} (default binance)"),
    ("--listen", "listen", str, "HOST:PORT to listen on (default 127.0.0.1:8090)"),
    ("--store", "store", str, "budget store: memory:// or redis://host:port/db (shared)"),
    ("--ip-name", "ip_name", str, "the budget's IP scope in a shared store (default 'default')"),
    ("--account", "account", str, "the ORDERS scope in a shared store (default 'gateway')"),
    ("--token", "token", str, "clients outside loopback use /t/<token>/... as base path"),
    ("--cache-ttl", "cache_ttl_s", float, "exchangeInfo cache seconds; 0: no caches (default 10)"),
    ("--cache-idle", "cache_idle_s", float, "drop a ticker stream unused this long (default 60)"),
    ("--max-wait", "max_wait_s", float, "seconds a request may wait for budget (default 3)"),
    ("--upstream-timeout", "upstream_timeout_s", float, "seconds per upstream try (default 10)"),
    ("--read-retries", "read_retries", int, "extra tries for a failed read (default 3)"),
    ("--read-deadline", "read_deadline_s", float, "seconds for all tries of a read (default 5)"),
    ("--backoff-base", "backoff_base_s", float, "first backoff cap, seconds (default 0.05)"),
    ("--backoff-cap", "backoff_cap_s", float, "largest backoff, seconds (default 1)"),
    ("--margin", "margin", float, "share of each limit to use, (0, 1] (default 0.95)"),
    ("--resync", "resync_s", float, "seconds between server-time resyncs (default 300)"),
    ("--max-body", "max_body_bytes", int, "largest request body, bytes (default 65536)"),
    ("--max-header", "max_header_bytes", int, "largest header line, bytes (default 8190)"),
    ("--drain", "drain_s", float, "seconds in-flight requests get on SIGTERM (default 10)"),
    ("--log-level", "log_level", str, "DEBUG, INFO, WARNING (default INFO)"),
    ("--keys", "keys", str, "keys mode: the keys file (see: binguard gateway keygen --help)"),
    ("--keys-window", "keys_window_s", float, "keys mode: refuse bot timestamps further off"),
    ("--journal", "journal", str, "keys mode: the order journal (default: beside the keys file)"),
    ("--order-wait", "order_wait_s", float, "keys mode: seconds a bot waits for a lost order"),
    ("--reconcile-margin", "reconcile_margin_s", float, "keys mode: seconds past recvWindow"),
    ("--order-window", "order_window_ms", int, "keys mode: an order's recvWindow at most (ms)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="[keygen]")
    gen = actions.add_parser(
        "keygen",
        help="make a local key for a bot (keys mode)",
        description="Make a local key for one bot: prints its api_key and the entry for the "
        "keys file's 'local' list; writes the bot's private key (ed25519) to a file only you "
        "can read, or prints its HMAC secret.",
    )
    gen.add_argument("--kind", choices=("ed25519", "hmac"), default="ed25519")
    gen.add_argument("--real", default="main", help="the real key it uses (keys file name)")
    gen.add_argument("--out", default=".", help="directory for the bot's private key file")
    parser.add_argument("--config", help="a YAML/JSON file with any of these settings")
    for flag, dest, kind, text in _FLAGS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    parser.add_argument(
        "--allow-remote",
        dest="allow_remote",
        action="store_true",
        default=None,
        help="allow a non-loopback --listen (needs --allow-net or --token)",
    )
    parser.add_argument(
        "--dashboard",
        dest="dashboard",
        action="store_true",
        default=None,
        help="show a live view of the gateway (requests, weight, bans, caches, sockets)",
    )
    parser.add_argument(
        "--allow-net",
        dest="allow_nets",
        action="append",
        default=None,
        metavar="CIDR",
        help="a client network allowed from outside loopback (repeatable)",
    )
    parser.add_argument(
        "--allow-host",
        dest="allow_hosts",
        action="append",
        default=None,
        metavar="NAME",
        help="another Host name clients may use, e.g. a docker service name (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> GatewayConfig:
    """The file's settings (if any), overridden by the flags given; validated."""
    config = GatewayConfig.load(args.config) if args.config else GatewayConfig()
    given = {
        dest: getattr(args, dest)
        for dest in [d for _, d, _, _ in _FLAGS]
        + ["allow_remote", "allow_nets", "allow_hosts", "dashboard"]
        if getattr(args, dest, None) is not None
    }
    for key in ("allow_nets", "allow_hosts"):
        if key in given:
            given[key] = tuple(given[key])
    return config.with_(**given).validate()


async def serve(
    config: GatewayConfig, *, ready: asyncio.Event | None = None, console: Console | None = None
) -> None:
    """Run until SIGTERM or SIGINT; then drain (in-flight finish, new ones get 503) and stop.
    With `config.dashboard`, the live view runs meanwhile (on `console`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(config)
    try:
        await gateway.start()
    except BaseException:  # the port is taken, ...: nothing may be left open behind the error
        await gateway.stop()
        raise
    print(f"binguard gateway listening on {gateway.url} -> {config.rest_url}", flush=True)
    view = None
    if config.dashboard:
        view = asyncio.create_task(dashboard.run(gateway, stop, console or _console()))
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        stop.set()
        await reap(view, cancel=False)
        await gateway.stop()


def _console() -> Console:
    return Console(width=min(80, Console().width))


def run(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "keygen":
        return keygen(args)
    try:
        config = config_from_args(args)
        if config.keys:
            KeyRing.load(config.keys)  # a bad keys file: one line now, not a traceback later
            OrderJournal(config.journal_path).close()  # likewise an unusable journal
    except (ConfigError, KeysFileError, JournalError) as e:
        print(f"binguard gateway: {e}", file=sys.stderr)
        return 2
    console = _console() if config.dashboard else None
    live = console is not None and console.is_terminal
    logging.basicConfig(
        level=config.log_level.upper(),
        # under the live view, log lines print above it (RichHandler shows time and level);
        # without a terminal they go to stderr as usual, and the view to stdout
        format="%(name)s %(message)s" if live else "%(asctime)s %(levelname)s %(name)s %(message)s",
        handlers=[RichHandler(console=console, show_path=False)] if live else None,
    )
    try:
        asyncio.run(serve(config, console=console))
    except OSError as e:  # the port is taken, the address is not ours
        print(f"binguard gateway: cannot listen on {config.listen}: {e.strerror}", file=sys.stderr)
        return 1
    return 0


def keygen(args: argparse.Namespace) -> int:
    """`binguard gateway keygen`: one local key, its keys-file entry on stdout."""
    try:
        entry, written = keygen_files(args.kind, args.real, args.out)
    except OSError as e:
        print(f"binguard gateway keygen: cannot write the key file: {e.strerror}", file=sys.stderr)
        return 1
    if written is not None:
        print(f"# the bot's private key (give it to the bot only): {written}")
    else:
        print("# the bot's HMAC secret is the 'secret' below: give it to the bot too")
    print("# add to the keys file's 'local' list:")
    print(entry, end="")
    return 0
