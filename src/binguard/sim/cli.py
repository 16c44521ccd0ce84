"""`binguard sim`: run the simulator on a TCP port until interrupted.

    binguard sim --host 127.0.0.1 --port 8765 [--config FILE] [--faults PLAN] [--seed N]
                 [--fault ACTION:key=value,...] [--api-key K --api-secret S]

Prints the demo account's HMAC key and secret and its Ed25519 key pair (derived from the seed, so
they are stable between runs): this is a local test exchange, not a place for real keys.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from typing import TextIO

from cryptography.hazmat.primitives import serialization

from .app import Simulator
from .config import KeySpec, SimConfig, demo_account, demo_ed25519_private
from .faults import FaultPlan, rule_from_flag

HELP = "run the local Binance Spot simulator with fault injection"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 = any)")
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


def build(args: argparse.Namespace) -> tuple[SimConfig, FaultPlan]:
    """The config and fault plan the flags describe (separate from run() for tests)."""
    config = SimConfig.load(args.config) if args.config else SimConfig()
    if args.seed is not None:
        config = config.with_(seed=args.seed)
    if bool(args.api_key) != bool(args.api_secret):
        raise ValueError("--api-key and --api-secret go together")
    if not args.config:
        demo = demo_account(config.seed, args.api_key, args.api_secret)
        config = config.with_(accounts=(demo,))
    elif args.api_key:  # keep the file's account, replace only its HMAC key
        base = config.accounts[0]
        hmac_key = KeySpec(args.api_key, "HMAC", args.api_secret)
        keys = (*(k for k in base.keys if k.kind != "HMAC"), hmac_key)
        config = config.with_(accounts=(dataclasses.replace(base, keys=keys), *config.accounts[1:]))
    plan = FaultPlan.load(args.faults) if args.faults else FaultPlan(seed=config.seed)
    if args.fault:
        plan = FaultPlan(plan.rules + tuple(rule_from_flag(f) for f in args.fault), plan.seed)
    return config, plan


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
    except (OSError, ValueError) as e:
        print(f"binguard sim: {e}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config, plan, args.host, args.port))
    except OSError as e:
        print(f"binguard sim: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    return 0
