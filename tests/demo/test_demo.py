"""`binguard demo`, the README's main job, end to end, as a new user runs it.

Short runs (12 s) through the real simulator and connector, in a subprocess with stdout piped
(no TTY) and COLUMNS=80, as in a CI log or `make demo | tee`:

- chaos: the dashboard and the verdict fit 80 columns; errors in three labelled groups; the
  drift reads "estimating" (12 s never spans enough samples to fit one); the title names the
  plan; the verdict opens with the story (the forced ban half-way, handled with 0 requests sent
  during it; reconciliations; resyncs), and trading stops on time;
- a plan file from examples/faults (ban.yaml), --json: a clean verdict, the story, the timing,
  and error groups that add up to the connector's own count.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 12
# The strategy's grace for a call still running when time is up (strategy.py) plus scheduling.
OVERRUN_S = 1.5


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "binguard", "demo", "--seconds", str(SECONDS), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=env,
        cwd=ROOT,
    )


def _panel(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    end = next(i for i, line in enumerate(lines) if line.startswith("╰"))
    return lines[start : end + 1]


def _story(lines: list[str]) -> str:
    start = next(i for i, line in enumerate(lines) if line.startswith("what happened"))
    end = next(i for i, line in enumerate(lines) if i > start and "verdict:" in line)
    return " ".join(line.strip() for line in lines[start + 1 : end])


def test_chaos_at_80_columns_without_a_tty_tells_the_story() -> None:
    run = _demo("--seed", "5")
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0] == "binguard demo: a market maker, faults chaos"
    panel = _panel(lines)
    assert "faults chaos" in panel[0]
    assert all(
        line.startswith("│") and line.endswith("│") and len(line) == 80 for line in panel[1:-1]
    )
    body = "\n".join(panel)
    for label in ("errors:", " from exchange", " refused here", " lookups", "clock offset"):
        assert f"│ {label}" in body, label
    assert "(nothing sent)" in body and "(expected)" in body
    assert "drift estimating" in body
    assert "PASS" in lines[-1]

    story = _story(lines)
    ban = re.search(
        r"forced ban at ([\d.]+) s \(until ([\d.]+) s\) handled: 0 requests sent", story
    )
    assert ban is not None, story
    # half-way through the plan, which starts a moment before trading (sockets, book)
    assert SECONDS * 0.5 - 3 <= float(ban.group(1)) <= SECONDS * 0.5 + 3
    # Whether an order's outcome was unknown in 12 s is up to the odds (about 1 in 6 per order)
    reconciled = r"\d+ unknown outcomes? \(first at [\d.]+ s|no order's outcome was unknown"
    assert re.search(reconciled, story), story
    assert re.search(r"\d+ resyncs?, 0 x -1021 in all, 0 after the first sync", story), story
    traded = re.search(r"traded ([\d.]+) s of the 12 s asked", story)
    assert traded is not None, story
    assert SECONDS <= float(traded.group(1)) <= SECONDS + OVERRUN_S
    assert "then settling took" in story


def test_a_plan_from_examples_runs_with_a_json_verdict() -> None:
    run = _demo("--faults", "examples/faults/ban.yaml", "--json")
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["orders_intended"] > 0
    # legs and cancel-replaces' new orders count too; an edit refused before its new order
    # (the quote filled meanwhile) is intended and absent
    assert 0 < report["orders_on_exchange"] <= report["orders_intended"]
    assert report["lists_placed"] > 0 and report["edits_made"] > 0
    assert report["requests_during_ban"] == 0 and report["bans"] == 0
    assert any(line.startswith("forced ban at ") for line in report["story"]), report["story"]
    timing = report["timing"]
    assert timing["asked_s"] == SECONDS
    assert SECONDS <= timing["traded_s"] <= SECONDS + OVERRUN_S
    assert set(timing["settling_s"]) == {"recover()", "cancels", "book check", "fills check"}
    errors = report["errors"]
    grouped = sum(sum(errors[g].values()) for g in ("exchange", "local", "lookups"))
    assert grouped == errors["total"] > 0  # the plan's 429s and 418 at least


def test_bad_arguments_get_one_line_and_status_2(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("rules: [ {action: reset\n", encoding="utf-8")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("rules: [{action: explode}]\n", encoding="utf-8")
    for args in (
        ["--faults", str(tmp_path / "missing.yaml")],
        ["--faults", str(bad_yaml)],
        ["--faults", str(unknown)],
        ["--seconds", "0"],
        ["--seconds", "soon"],
    ):
        run = subprocess.run(
            [sys.executable, "-m", "binguard", "demo", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 2, (args, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1, (args, run.stderr)
        assert run.stderr.startswith("binguard demo"), run.stderr
        assert run.stdout == ""
