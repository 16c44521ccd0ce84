"""The demo's verdict: which 418s are the connector's fault, against a request log."""

from __future__ import annotations

from typing import Any

import pytest

from binguard.demo.verdict import count_bans


def log(*rows: tuple[int, int, str | None]) -> list[dict[str, Any]]:
    return [{"time": t, "status": status, "fault": fault} for t, status, fault in rows]


FORCED = {"forced ban"}


@pytest.mark.parametrize(
    ("rows", "learnt", "expected"),
    [
        # the forced ban alone: nothing earned, nothing sent during it
        ([(100, 418, "forced ban"), (5200, 200, None)], [100], (0, 0)),
        # a request on its way when the ban was learnt (same ms, or 1 ms later): not counted
        ([(100, 418, "forced ban"), (100, 418, None), (101, 418, None)], [100], (0, 0)),
        # sent after the connector knew: counted
        ([(100, 418, "forced ban"), (102, 418, None), (900, 418, None)], [100], (0, 2)),
        # learnt late (the connector was busy): requests before that are not its doing
        ([(100, 418, "forced ban"), (103, 418, None), (110, 418, None)], [105], (0, 1)),
        # a ban the connector never learnt of: every further 418 counts
        ([(100, 418, "forced ban"), (101, 418, None), (300, 418, None)], [], (0, 2)),
        # knowledge of an earlier ban does not excuse a later one's requests
        (
            [(100, 418, "forced ban"), (200, 200, None), (300, 418, None), (301, 418, None)],
            [100],
            (1, 1),
        ),
        # a 418 the connector earned itself (not a forced one) counts as a ban
        ([(50, 429, None), (100, 418, None), (7000, 200, None)], [100], (1, 0)),
        # answers without a status (a connection drop) do not end a ban
        ([(100, 418, "forced ban"), (150, 0, None), (160, 418, None)], [100], (0, 1)),
    ],
)
def test_count_bans(
    rows: list[tuple[int, int, str | None]], learnt: list[int], expected: tuple[int, int]
) -> None:
    assert count_bans(log(*rows), FORCED, learnt) == expected
