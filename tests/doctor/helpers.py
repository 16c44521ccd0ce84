"""Shared helpers for the doctor tests: run the doctor on sample logs and pick findings."""

from __future__ import annotations

from pathlib import Path

from binguard.doctor import Diagnosis, Finding, Report, doctor
from binguard.errors import Family

DATA = Path(__file__).parent / "data"


def run(*names: str) -> Report:
    return doctor([str(DATA / n) for n in names])


def finding(report: Report, code: int | None, family: Family, name: str | None = None) -> Finding:
    matches = [
        f
        for f in report.findings
        if f.key.code == code and f.key.family is family and (name is None or f.key.name == name)
    ]
    assert len(matches) == 1, [f.key for f in report.findings]
    return matches[0]


def counts(report: Report) -> dict[tuple[int | None, str, str], int]:
    return {(f.key.code, f.key.name, f.key.family.value): f.count for f in report.findings}


def diagnosis(report: Report, ident: str) -> Diagnosis:
    matches = [d for d in report.diagnoses if d.id == ident]
    assert len(matches) == 1, [d.id for d in report.diagnoses]
    return matches[0]
