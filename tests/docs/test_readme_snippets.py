"""The README's "your own bot" snippets run as written, against the simulator on loopback.

Each `<!-- snippet: NAME -->` block of README.md is taken from the README itself (no copy to
drift from it), written to a file and run in its own process behind `netguard` (every
non-loopback host refused), with one change: the port 8765 of `binguard sim --port 8765` becomes
the test simulator's ephemeral port. The snippets use the keys `binguard sim` prints with its
default seed, so the simulator here runs with that seed. Real clients throughout: ccxt, ccxt.pro,
python-binance, Binance's SDK (test extras), binguard's connector.

The Binance snippet (testnet) cannot reach the testnet here: it is run until its first
connection, which must go to the testnet's REST host (and is refused by netguard).
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from binguard.connector.options import BINANCE_REST, BINANCE_STREAMS, BINANCE_WS_API
from binguard.sim import SimConfig, Simulator
from binguard.sim.config import demo_account

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NETGUARD = Path(__file__).with_name("netguard.py")
SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```python\n(.*?)\n```", re.S)
SIM_PORT = "127.0.0.1:8765"

# snippet -> the module it needs (test extras; skipped where absent)
AGAINST_THE_SIM = {
    "ccxt": "ccxt",
    "ccxt-pro": "ccxt.pro",
    "python-binance-async": "binance",
    "python-binance-sync": "binance",
    "binance-sdk-spot": "binance_sdk_spot",
    "connector": "binguard",
}
TESTNET = "connector-testnet"
ORDER_LINE = re.compile(r"^order (\d+) (canceled|CANCELED)$", re.M)


def snippets() -> dict[str, str]:
    return dict(SNIPPET.findall(README.read_text(encoding="utf-8")))


def test_the_readme_has_every_snippet_once() -> None:
    names = [m[0] for m in SNIPPET.findall(README.read_text(encoding="utf-8"))]
    assert sorted(names) == sorted([*AGAINST_THE_SIM, TESTNET])


@pytest.mark.parametrize("name", sorted(AGAINST_THE_SIM))
def test_snippets_use_the_keys_binguard_sim_prints(name: str) -> None:
    """`binguard sim` with its default seed prints these keys (sim/cli.py banner)."""
    key = demo_account(SimConfig().seed).keys[0]
    code = snippets()[name]
    assert f'KEY = "{key.api_key}"' in code
    assert f'SECRET = "{key.secret}"' in code
    assert SIM_PORT in code


async def _run(script: Path, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(NETGUARD),
        str(script),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _orders(sim: Simulator) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/orders") as r:
        data: list[dict[str, Any]] = await r.json()
        return data


@pytest.mark.parametrize("name", sorted(AGAINST_THE_SIM))
async def test_snippet_trades_on_the_simulator(name: str, tmp_path: Path) -> None:
    if importlib.util.find_spec(AGAINST_THE_SIM[name].split(".")[0]) is None:
        pytest.skip(f"{AGAINST_THE_SIM[name]} is not installed (make install: test extras)")
    async with Simulator(SimConfig()) as sim:  # the crowd trades on a timer: streams carry data
        code = snippets()[name].replace(SIM_PORT, f"127.0.0.1:{sim.port}")
        script = tmp_path / "bot.py"
        script.write_text(code, encoding="utf-8")
        status, out, err = await _run(script, tmp_path)
        assert status == 0, err[-3000:]
        assert "netguard: refused" not in err
        printed = ORDER_LINE.search(out)
        assert printed is not None, out
        truth = {o["orderId"]: o["status"] for o in await _orders(sim)}
    assert truth[int(printed.group(1))] == "CANCELED"


async def test_the_testnet_snippet_goes_to_the_testnet(tmp_path: Path) -> None:
    script = tmp_path / "bot.py"
    script.write_text(snippets()[TESTNET], encoding="utf-8")
    env = {"BINANCE_API_KEY": "k" * 64, "BINANCE_SECRET": "s" * 64, "PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(NETGUARD),
        str(script),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    refused = None
    try:
        async with asyncio.timeout(60):
            while refused is None:
                line = (await proc.stderr.readline()).decode()
                assert line, "the snippet ended without trying to connect"
                if line.startswith("netguard: refused"):
                    refused = line.split()[-1]
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    assert refused == "testnet.binance.vision"


def _hosts() -> dict[str, tuple[str, str, str]]:
    """The README's table of hosts: place -> (base_url, stream_url, ws_api_url)."""
    text = README.read_text(encoding="utf-8").split("<!-- hosts -->", 1)[1]
    rows = text.strip().split("\n\n", 1)[0].splitlines()  # the table right after the marker
    table = {}
    for row in rows[2:]:
        cells = [c.strip().strip("`") for c in row.strip("|").split("|")]
        table[cells[0]] = (cells[1], cells[2], cells[3])
    return table


def test_the_hosts_table_holds_the_connector_defaults_and_binances_sdk_hosts() -> None:
    hosts = _hosts()
    assert hosts["Binance"] == (BINANCE_REST, BINANCE_STREAMS, BINANCE_WS_API)
    testnet = hosts["Spot testnet"]
    assert all(url in snippets()[TESTNET] for url in testnet)
    constants: Any = pytest.importorskip("binance_common.constants")
    assert testnet == (
        constants.SPOT_REST_API_TESTNET_URL,
        constants.SPOT_WS_STREAMS_TESTNET_URL,
        constants.SPOT_WS_API_TESTNET_URL,
    )
    assert hosts["demo mode"] == (
        constants.SPOT_REST_API_DEMO_URL,
        constants.SPOT_WS_STREAMS_DEMO_URL,
        constants.SPOT_WS_API_DEMO_URL,
    )
