"""`binguard demo --gateway`: a short run end to end (the simulator with the chaos plan, unmodified
ccxt bots, a real `binguard gateway` process), the ban accounting on a known log, the verdict
table at 80 columns, and bad arguments."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from binguard.cli import main
from binguard.demo.fleet import summary
from binguard.demo.fleet.verdict import Facts, bans, table

pytest.importorskip("ccxt")
ROOT = Path(__file__).resolve().parents[2]


def test_a_short_demo_run_is_clean_through_the_gateway() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    argv = ["demo", "--gateway", "--bots", "2", "--seconds", "8", "--json"]
    out = subprocess.run(
        [sys.executable, "-m", "binguard", *argv],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    runs = json.loads(out.stdout)
    direct, gateway = runs["direct"], runs["gateway"]
    assert gateway["clean"] is True, runs
    for name in ("upstream_429", "bans_earned", "requests_during_ban"):
        assert gateway[name] == 0, (name, runs)
    assert gateway["orders_lost"] == gateway["orders_duplicated"] == 0, runs
    assert direct["upstream_requests"] >= direct["calls"], runs  # ccxt alone: every call goes out
    # the gateway answered many itself (its caches; the weight they save is bench/'s figure)
    assert gateway["upstream_requests"] < 0.8 * gateway["calls"], runs
    assert direct["demand"] > 0 and gateway["orders_placed"] >= 1, runs


def _log(*rows: tuple[int, int, str | None]) -> list[dict[str, object]]:
    return [{"time": t, "status": s, "fault": f, "method": "GET", "path": "/"} for t, s, f in rows]


def test_bans_are_counted_from_the_limiters_ends() -> None:
    log = _log(
        (1, 200, None),
        (2, 429, None),
        (1000, 418, None),  # earned: ends at 5000
        (1100, 418, None),  # in flight when the ban began: not counted
        (1500, 418, None),  # during
        (1600, 503, "busy"),  # during: a fault answered it, the ban went on
        (6000, 200, None),
        (7000, 418, "forced"),  # forced: ends at 9000, not earned
        (8000, 418, "forced"),  # forced again inside it: extends it to 9500
        (9200, 418, None),  # during
        (9600, 200, None),
    )
    assert bans(log, [5000, 9000, 9500], {"forced"}) == (1, 4)


def _facts(mode: str, **kw: int) -> Facts:
    base = dict.fromkeys(Facts.__dataclass_fields__, 0)
    base.update(mode=mode, demand=1000, **kw)  # type: ignore[arg-type]
    return Facts(**base)  # type: ignore[arg-type]


def test_the_verdict_table_fits_80_columns() -> None:
    direct = _facts("direct", upstream_429=12, bans_earned=2, upstream_weight=1000)
    through = _facts("through gateway", upstream_weight=240, orders_placed=9, orders_on_exchange=9)
    assert through.clean and not direct.clean
    console = Console(file=io.StringIO(), width=80, record=True, color_system=None)
    console.print(table(direct, through))
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80
    assert "1000 (100 %)" in text and "240 (24 %)" in text and "9 (9 on exchange)" in text
    assert "bans earned (418)" in text and "429s from exchange" in text
    words = summary(direct, through)
    assert words[0] == "directly: 12 × 429 and 2 ban(s) earned, 0 requests sent while banned."
    assert "[green]clean[/]" in words[1] and "sent 240 of 1000 weight upstream" in words[1]


@pytest.mark.parametrize("bots", ["0", "33", "x"])
def test_bad_bot_counts_are_one_line(bots: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--gateway", "--bots", bots])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--bots" in err


def test_an_unusable_plan_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--gateway", "--faults", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--faults" in err
