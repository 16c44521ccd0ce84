"""Events grouped into Findings: one per error (code or failure name) and family, explained.

The explanation is the catalog's: the entry's meaning, causes and fix, falling back to the family's
(FamilyInfo), and the family's `binguard` text says what binguard does about it automatically. For
failures without a Binance code (network errors, bare HTTP statuses) the meaning is the docstring of
the core's exception class, so the text lives in one place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from binguard.errors import catalog
from binguard.errors._hints import CRASH_BINGUARD, CRASH_FIX, CRASH_MEANING

from ._model import Event, Evidence, Finding, FindingKey, Hit

MAX_EXAMPLES: Final = 3
MAX_MESSAGES: Final = 5
MAX_VALUES: Final = 10


@dataclass(slots=True)
class _Acc:
    count: int = 0
    first: float | None = None
    last: float | None = None
    timeline: Counter[int] = field(default_factory=Counter)
    hits: dict[int, tuple[Hit, int]] = field(default_factory=dict)
    examples: list[Event] = field(default_factory=list)


SIMULATOR_1020: Final = (
    "This endpoint is not served here: binguard's simulator answered -1020 because it lacks it "
    "(its banner is in the log), so the request is not malformed. Keep such calls out of runs "
    "against the simulator, or try them on Binance's Spot testnet."
)


def build_findings(
    events: Sequence[Event], paths: Sequence[str], simulator: frozenset[int] = frozenset()
) -> list[Finding]:
    """One Finding per FindingKey, the most frequent first. `simulator`: the sources that show
    binguard's simulator, where -1020 means "this endpoint is not served here"."""
    accs: dict[FindingKey, _Acc] = {}
    for ev in events:
        acc = accs.get(ev.hit.key)
        if acc is None:
            acc = accs[ev.hit.key] = _Acc()
        acc.count += 1
        t = ev.time
        if t is not None:
            if acc.first is None or t < acc.first:
                acc.first = t
            if acc.last is None or t > acc.last:
                acc.last = t
            acc.timeline[int(t // 3600) * 3600] += 1
        hid = id(ev.hit)
        seen = acc.hits.get(hid)
        acc.hits[hid] = (ev.hit, seen[1] + 1 if seen else 1)
        if len(acc.examples) < MAX_EXAMPLES:
            acc.examples.append(ev)
    findings = [_finding(key, acc, paths) for key, acc in accs.items()]
    if simulator and all(e.source in simulator for e in events if e.hit.key.code == -1020):
        for f in findings:
            if f.key.code == -1020:
                f.fix = SIMULATOR_1020
    findings.sort(key=lambda f: (-f.count, f.key.code or 0, f.key.title))
    return findings


def evidence(ev: Event, paths: Sequence[str]) -> Evidence:
    return Evidence(paths[ev.source], ev.line, ev.time, ev.hit.text)


def _finding(key: FindingKey, acc: _Acc, paths: Sequence[str]) -> Finding:
    messages: Counter[str] = Counter()
    values: dict[str, Counter[str | int]] = {}
    statuses: Counter[int] = Counter()
    endpoints: Counter[str] = Counter()
    for hit, n in acc.hits.values():
        messages[hit.matched] += n
        for name, value in hit.values.items():
            values.setdefault(name, Counter())[value] += n
        if hit.error.http_status is not None:
            statuses[hit.error.http_status] += n
        if hit.endpoint:
            endpoints[hit.endpoint] += n
    sample = max(acc.hits.values(), key=lambda hn: hn[1])[0]
    err = sample.error
    fam = catalog().families[key.family]
    entry = catalog().get(key.code) if key.code is not None else None
    if sample.crash:
        meaning, causes, fix, binguard = CRASH_MEANING, [], CRASH_FIX, CRASH_BINGUARD
    elif entry is not None:
        meaning = entry.meaning or fam.summary
        causes = list(entry.causes or fam.causes)
        fix, binguard = entry.fix or fam.fix, fam.binguard
    else:
        doc = (type(err).__doc__ or "").strip().splitlines()
        meaning = doc[0] if doc and key.code is None else fam.summary
        causes, fix, binguard = list(fam.causes), fam.fix, fam.binguard
    return Finding(
        key=key,
        count=acc.count,
        first_seen=acc.first,
        last_seen=acc.last,
        timeline=dict(sorted(acc.timeline.items())),
        messages=messages.most_common(MAX_MESSAGES),
        values={k: c.most_common(MAX_VALUES) for k, c in sorted(values.items())},
        http_statuses=dict(sorted(statuses.items())),
        endpoints=endpoints.most_common(MAX_VALUES),
        examples=[evidence(ev, paths) for ev in acc.examples],
        meaning=meaning,
        causes=causes,
        fix=fix,
        family_summary=fam.summary,
        recovery=err.recovery.value,
        binguard=binguard,
        may_have_executed=err.may_have_executed,
    )
