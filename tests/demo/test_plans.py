"""The example fault plans (examples/faults/): each one loads, is commented, and names the
scenario the demo runs; the demo runs one of them end to end in test_demo.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from binguard.demo import scenario
from binguard.sim import cli as sim_cli
from binguard.sim.faults import FaultPlan

PLANS = Path(__file__).resolve().parents[2] / "examples" / "faults"
EXPECTED = {"calm", "chaos", "ban", "clock-drift", "execution-unknown-storm"}


def test_the_five_plans_are_there() -> None:
    assert {p.stem for p in PLANS.glob("*.yaml")} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_plan_loads_and_explains_itself(name: str) -> None:
    path = PLANS / f"{name}.yaml"
    plan = FaultPlan.load(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# {name.replace('-', ' ')}"), "the first line says what the plan is"
    assert f"binguard demo --faults examples/faults/{name}.yaml" in text
    labels = [rule.label for rule in plan.rules]
    assert len(labels) == len(set(labels)), "rule names tell the faults apart in /_sim/requests"
    chosen = scenario(str(path), seed=3, seconds=60)
    assert chosen.title.endswith(f"faults {name}.yaml")
    assert chosen.plan.rules == plan.rules
    assert chosen.plan.seed == 3  # no seed in the file: --seed draws the faults
    assert chosen.config.clock_offset_ms == 0.0  # under a plan file the clock starts true


@pytest.mark.parametrize(
    ("name", "actions"),
    [
        ("calm", set()),
        ("ban", {"http_429", "http_418"}),
        ("clock-drift", {"clock_jump"}),
        ("execution-unknown-storm", {"reset_after", "error", "stall_after", "reset", "html"}),
    ],
)
def test_each_plan_holds_the_faults_it_is_named_for(name: str, actions: set[str]) -> None:
    plan = FaultPlan.load(PLANS / f"{name}.yaml")
    assert {rule.action for rule in plan.rules} == actions


def test_the_chaos_file_is_the_built_in_chaos_for_a_minute() -> None:
    """Same rules, same odds, as `--faults chaos --seconds 60` (but for the clock setting)."""
    built_in = scenario("chaos", seed=7, seconds=60).plan
    from_file = FaultPlan.load(PLANS / "chaos.yaml")
    assert [(r.label, r.action, r.probability) for r in from_file.rules] == [
        (r.label, r.action, r.probability) for r in built_in.rules
    ]


def test_titles_follow_the_plan() -> None:
    assert scenario("chaos", 1, 10).title.endswith("faults chaos")
    assert scenario("calm", 1, 10).title.endswith("faults calm")
    assert scenario("calm", 1, 10).plan.rules == ()
    assert scenario("chaos", 1, 10).forced_ban and not scenario("calm", 1, 10).forced_ban


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_binguard_sim_takes_each_plan(name: str) -> None:
    """`binguard sim --faults examples/faults/NAME.yaml` (under your own bot) reads the same plan."""
    parser = argparse.ArgumentParser()
    sim_cli.add_arguments(parser)
    path = PLANS / f"{name}.yaml"
    _, plan = sim_cli.build(parser.parse_args(["--faults", str(path)]))
    assert plan.rules == FaultPlan.load(path).rules
