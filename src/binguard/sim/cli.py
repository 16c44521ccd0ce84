"""`binguard sim`: run the simulator on a TCP port until interrupted.

    binguard sim --host 127.0.0.1 --port 8765 [--config FILE] [--faults PLAN] [--seed N]
                 [--fault ACTION:key=value,...] [--api-key K --api-secret S]
                 [--retain-s SECONDS] [--retain-orders N]

Every option and every value of a config file or fault plan is checked before anything starts:
a mistake is one line on stderr (`binguard sim: ...`) and exit status 2. A port that cannot be
bound (in use, not ours) is exit status 1.

Prints the demo account's HMAC key and secret and its Ed25519 key pair (derived from the seed, so
they are stable between runs): this is a local test exchange, not a place for real keys.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import re
import sys
from typing import Any, NoReturn, TextIO

from cryptography.hazmat.primitives import serialization

from .app import Simulator
from .config import KeySpec, RetentionConfig, SimConfig, demo_account, demo_ed25519_private
from .faults import FaultPlan, rule_from_flag

HELP = "run the local Binance Spot simulator with fault injection"


_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_KEY = re.compile(r"[\x21-\x7e]+")  # what an HTTP header value can carry: printable ASCII


def _say(message: str) -> None:
    print(f"binguard sim: {' '.join(message.split())}", file=sys.stderr)


def _fail(message: str) -> NoReturn:
    """argparse's error: one line on stderr and exit status 2 (without its usage block)."""
    _say(message)
    raise SystemExit(2)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be within 0-65535, not {port}")
    return port


def _host(text: str) -> str:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if len(text) > 253 or not _HOSTNAME.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r} is not an address") from None
    return text


def _non_negative(kind: type[int] | type[float]) -> argparse._ActionType:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None
        if not 0 <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # The parser is made by binguard's top-level CLI; only this subcommand's answers change:
    # one line for any mistake, unknown options included (otherwise reported by the top level).
    parser.error = _fail  # type: ignore[method-assign]
    parse_known = parser.parse_known_args

    def strict(*args: Any, **kwargs: Any) -> Any:
        namespace, extras = parse_known(*args, **kwargs)
        if extras:
            _fail(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    parser.parse_known_args = strict  # type: ignore[method-assign]
    parser.add_argument(
        "--host", type=_host, default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=_port, default=8765, help="TCP port (default 8765; 0 = any)")
    parser.add_argument("--config", metavar="FILE", help="simulator config, YAML or JSON")
    parser.add_argument("--faults", metavar="PLAN", help="fault plan, YAML or JSON")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="ACTION[:k=v,...]",
        help="add one fault rule, e.g. reset_after:path=/api/v3/order,every_nth=3",
    )
    parser.add_argument("--seed", type=int, help="seed for the crowd, ids and faults")
    parser.add_argument("--api-key", help="HMAC API key of the default account")
    parser.add_argument("--api-secret", help="HMAC secret of the default account")
    parser.add_argument(
        "--retain-s",
        type=_non_negative(float),
        metavar="SECONDS",
        help="terminal orders stay queryable at least this long (default 300), then -2026",
    )
    parser.add_argument(
        "--retain-orders",
        type=_non_negative(int),
        metavar="N",
        help="and each account's last N terminal orders stay too (default 10000)",
    )


def build(args: argparse.Namespace) -> tuple[SimConfig, FaultPlan]:
    """The config and fault plan the flags describe (separate from run() for tests)."""
    try:
        config = SimConfig.load(args.config) if args.config else SimConfig()
    except OSError as e:
        raise ValueError(f"cannot read --config {args.config}: {e.strerror or e}") from None
    if args.seed is not None:
        config = config.with_(seed=args.seed)
    if (args.api_key is None) != (args.api_secret is None):
        raise ValueError("--api-key and --api-secret go together")
    for flag, value in (("--api-key", args.api_key), ("--api-secret", args.api_secret)):
        if value is not None and not _KEY.fullmatch(value):
            raise ValueError(f"{flag} must be printable ASCII without spaces")
    if args.retain_s is not None or args.retain_orders is not None:
        kept = config.retention
        config = config.with_(
            retention=RetentionConfig(
                kept.horizon_s if args.retain_s is None else args.retain_s,
                kept.max_orders if args.retain_orders is None else args.retain_orders,
            )
        )
    if not args.config:
        demo = demo_account(config.seed, args.api_key, args.api_secret)
        config = config.with_(accounts=(demo,))
    elif args.api_key:  # keep the file's account, replace only its HMAC key
        base = config.accounts[0]
        hmac_key = KeySpec(args.api_key, "HMAC", args.api_secret)
        keys = (*(k for k in base.keys if k.kind != "HMAC"), hmac_key)
        config = config.with_(accounts=(dataclasses.replace(base, keys=keys), *config.accounts[1:]))
    try:
        plan = FaultPlan.load(args.faults) if args.faults else FaultPlan(seed=config.seed)
    except OSError as e:
        raise ValueError(f"cannot read --faults {args.faults}: {e.strerror or e}") from None
    except ValueError as e:
        raise ValueError(f"{args.faults}: {e}") from None
    rules = list(plan.rules)
    for flag in args.fault:
        try:
            rules.append(rule_from_flag(flag))
        except ValueError as e:
            raise ValueError(f"--fault {flag!r}: {e}") from None
    return config, FaultPlan(tuple(rules), plan.seed)


def banner(sim: Simulator, out: TextIO) -> None:
    config = sim.config
    account = config.demo
    print(f"binguard sim: Binance Spot simulator at {sim.url}", file=out)
    print(f"  REST base URL : {sim.url}/api/v3   admin: {sim.url}/_sim/", file=out)
    print(f"  symbols       : {', '.join(s.symbol for s in config.symbols)}", file=out)
    for key in account.keys:
        if key.kind == "HMAC":
            print(f"  HMAC API key  : {key.api_key}", file=out)
            print(f"  HMAC secret   : {key.secret}", file=out)
        elif key.kind == "ED25519":
            print(f"  Ed25519 key   : {key.api_key}", file=out)
    private_key = demo_ed25519_private(config.seed)
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if any(k.kind == "ED25519" and k.public_key_pem == public.decode() for k in account.keys):
        # only the seed-derived demo key is printed; a configured key's private half is not ours
        private = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        print("  Ed25519 private key (PKCS#8, demo only):", file=out)
        print("    " + private.decode().strip().replace("\n", "\n    "), file=out)
        print("  Ed25519 public key:", file=out)
        print("    " + public.decode().strip().replace("\n", "\n    "), file=out)
    print(f"  streams       : {sim.ws_url}/ws/<stream>  {sim.ws_url}/stream?streams=a/b", file=out)
    print(f"  WebSocket API : {sim.ws_url}/ws-api/v3", file=out)
    rules = sim.state.faults.plan.rules
    print(f"  faults        : {len(rules)} rule(s)", file=out)
    out.flush()


async def serve(config: SimConfig, plan: FaultPlan, host: str, port: int) -> None:
    async with Simulator(config, plan, host=host, port=port) as sim:
        banner(sim, sys.stdout)
        await asyncio.Event().wait()


def run(args: argparse.Namespace) -> int:
    try:
        config, plan = build(args)
        Simulator(config, plan)  # builds the exchange: symbol filters are parsed here
    except (OSError, ValueError, TypeError, ArithmeticError) as e:  # ArithmeticError: a 0 tick
        _say(str(e))
        return 2
    try:
        asyncio.run(serve(config, plan, args.host, args.port))
    except OSError as e:
        _say(f"cannot listen on {args.host}:{args.port}: {e}")
        return 1
    return 0
