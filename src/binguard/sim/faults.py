"""Fault plans: which requests go wrong, and how (chosen deterministically from a seed).

A plan is a list of rules, from YAML/JSON, CLI flags (`ACTION[:key=value,...]`) or the admin API.
A rule selects requests by path pattern (fnmatch), method, a time window relative to when the plan
was loaded, every Nth matching request and/or a probability drawn from `random.Random(seed)`,
and fires at most `times` times. A request fires at most one fault, the first due in plan order,
and the modifiers (latency, clock_jump) due before it; the other due rules neither fire nor spend
their `times`. Actions:

before the engine (the request has no effect):
  reset        TCP RST (SO_LINGER 0 + abort): the client sees ECONNRESET
  close        clean close (FIN) without a reply
  error        a Binance error body: `status` and `code` (e.g. 503/-1008, 500/-1001, 503/-1006)
  html         an HTML error page from a proxy (`status` 502 or 503)
  waf          403 from the web application firewall (HTML)
  http_429     -1003 "Too much request weight used" with Retry-After
  http_418     a real ban of the client IP for `ban_s` seconds (418 "IP banned until ...")
  latency      wait `latency_ms` before processing (combines with other rules)
  clock_jump   move the server clock by `jump_ms` (combines with other rules)
after the engine executed the request (`executed` outcome, unknown to the client):
  reset_after, close_after   RST or FIN instead of the reply
  partial_after              send the headers and part of the body, then RST
  stall_after                send nothing for `stall_s` seconds (past the client timeout), then FIN
  error with executed: true  the request ran; the reply is the 5XX body (-1006 / -1007 ...)
  `stage: cancel` on any of these for order/cancelReplace (order.cancelReplace): only the cancel
  half ran (the order is canceled, no new order placed), then the fault instead of the reply

on WebSockets (`path` is the connection path: /ws/<streams>, /ws, /stream, /ws-api/v3):
  per connection, when it opens (`method` "*"), injected `after_s` seconds later; or per WebSocket
  API request (`method` = the request's method, e.g. order.place), before it runs or, with
  `executed: true`, after it ran instead of the response:
  ws_close      close frame (code `code`, default 1000) and close
  ws_reset      TCP RST without a close frame: the client sees 1006 / a connection error
  ws_silence    no data and no pings for `stall_s` seconds (default: config stall_s)
  ws_shutdown   a `serverShutdown` event, then close (1001) after `grace_s` seconds
  ws_expire     the 24-hour lifetime ends now (accelerated expiry), closed as at 24 h
  ws_error      WebSocket API only: an error response (`status`, `code`, default 500 / -1000)
  per event on matching connections (`stream` matches the stream name, e.g. btcusdt@depth*):
  ws_gap        a diff depth event is not sent: its update ids are missing (U > previous u + 1)
  ws_duplicate  an executionReport is sent twice
  ws_delay      an executionReport is held `latency_ms` and sent after later events
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

BEFORE = frozenset({"reset", "close", "error", "html", "waf", "http_429", "http_418"})
AFTER = frozenset({"reset_after", "close_after", "partial_after", "stall_after"})
MODIFIERS = frozenset({"latency", "clock_jump"})
REST_ACTIONS = BEFORE | AFTER | MODIFIERS
WS_CONNECTION = frozenset({"ws_close", "ws_reset", "ws_silence", "ws_shutdown", "ws_expire"})
WS_REQUEST = WS_CONNECTION | {"ws_error"}
WS_EVENT = frozenset({"ws_gap", "ws_duplicate", "ws_delay"})
WS_ACTIONS = WS_REQUEST | WS_EVENT
ACTIONS = REST_ACTIONS | WS_ACTIONS


def first_only() -> Callable[[FaultRule], bool]:
    """A `claim` for `FaultInjector.pick`: the first due rule fires and no other (one fault per
    WebSocket API request or stream event; the rest keep their `times`)."""
    taken = False

    def claim(_rule: FaultRule) -> bool:
        nonlocal taken
        if taken:
            return False
        taken = True
        return True

    return claim


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One rule of a plan. Defaults select every request, once per match, forever."""

    action: str
    path: str = "*"
    method: str = "*"
    probability: float = 1.0
    every_nth: int = 0
    start_s: float = 0.0
    end_s: float | None = None
    times: int | None = None
    status: int = 0
    code: int = 0
    executed: bool = False
    latency_ms: float = 0.0
    stall_s: float | None = None
    jump_ms: float = 0.0
    ban_s: float = 120.0
    after_s: float = 0.0
    grace_s: float = 0.0
    stream: str = "*"
    name: str = ""
    stage: str = ""  # "cancel": a cancel-replace stops after its cancel half

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or self.action not in ACTIONS:
            raise ValueError(
                f"unknown fault action {self.action!r}; known: {', '.join(sorted(ACTIONS))}"
            )
        for f in fields(self):
            _check_field(f.name, str(f.type), getattr(self, f.name))
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault {self.action}: probability must be within [0, 1]")
        if self.end_s is not None and self.end_s < self.start_s:
            raise ValueError(f"fault {self.action}: end_s must not be before start_s")
        if self.stage not in ("", "cancel"):
            raise ValueError(f"fault {self.action}: stage must be 'cancel' or empty")
        if self.status and not 100 <= self.status <= 599:
            raise ValueError(f"fault {self.action}: status must be an HTTP status (100-599)")

    @property
    def label(self) -> str:
        return self.name or self.action

    @property
    def after_engine(self) -> bool:
        return self.action in AFTER or (self.action == "error" and self.executed)


_RULE_FIELDS = {f.name: f.type for f in fields(FaultRule)}
_SIGNED = frozenset({"code", "jump_ms"})  # the only numbers that may be negative


def _check_field(name: str, kind: str, value: Any) -> None:
    """One rule value against its annotation ("int", "float | None", ...): type, sign, finite."""
    if value is None and kind.endswith("| None"):
        return
    base = kind.removesuffix(" | None")
    if base == "str":
        ok = isinstance(value, str)
    elif base == "bool":
        ok = isinstance(value, bool)
    elif base == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:  # float: an int is a float too
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
    if not ok:
        raise ValueError(f"fault option {name} must be {_KIND_TEXT[base]}, not {value!r}")
    if base in ("int", "float") and name not in _SIGNED and value < 0:
        raise ValueError(f"fault option {name} must not be negative, not {value!r}")


_KIND_TEXT = {
    "str": "a string",
    "bool": "true or false",
    "int": "an integer",
    "float": "a finite number",
}


def rule_from_mapping(data: dict[str, Any]) -> FaultRule:
    unknown = set(data) - set(_RULE_FIELDS)
    if unknown:
        raise ValueError(f"unknown fault rule keys: {sorted(map(str, unknown))}")
    if "action" not in data:
        raise ValueError("a fault rule needs an action")
    return FaultRule(**data)


def rule_from_flag(text: str) -> FaultRule:
    """`ACTION[:key=value,...]`, e.g. `reset_after:path=/api/v3/order,every_nth=3`."""
    action, _, rest = text.partition(":")
    data: dict[str, Any] = {"action": action.strip()}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"fault option {item!r} must be key=value")
        key = key.strip()
        # a string option takes the text as written (name=123 is the name "123")
        data[key] = value.strip() if _RULE_FIELDS.get(key) == "str" else _scalar(value)
    return rule_from_mapping(data)


def _scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # not a YAML scalar: the type check names the option and the value


@dataclass(frozen=True, slots=True)
class FaultPlan:
    rules: tuple[FaultRule, ...] = ()
    seed: int = 0

    @classmethod
    def from_mapping(cls, data: Any) -> FaultPlan:
        """`{"seed": n, "rules": [...]}` or just a list of rules."""
        if isinstance(data, list):
            data = {"rules": data}
        if not isinstance(data, dict):
            raise ValueError("a fault plan is a mapping with 'rules' or a list of rules")
        unknown = set(data) - {"seed", "rules"}
        if unknown:
            raise ValueError(f"unknown fault plan keys: {sorted(map(str, unknown))}")
        raw_rules = data.get("rules") or []
        if not isinstance(raw_rules, list):
            raise ValueError("a fault plan's 'rules' must be a list")
        for i, r in enumerate(raw_rules):
            if not isinstance(r, dict):
                raise ValueError(f"fault rule #{i + 1} must be a mapping, not {r!r}")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"a fault plan's seed must be an integer, not {seed!r}")
        return cls(tuple(rule_from_mapping(dict(r)) for r in raw_rules), seed)

    @classmethod
    def from_text(cls, text: str) -> FaultPlan:
        """YAML or JSON text (JSON is parsed by the YAML parser too); ValueError if invalid."""
        try:
            data = json.loads(text)
        except ValueError:
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise ValueError(f"invalid YAML: {' '.join(str(e).split())}") from None
        return cls.from_mapping(data)

    @classmethod
    def load(cls, path: str | Path) -> FaultPlan:
        return cls.from_text(Path(path).read_text(encoding="utf-8"))


@dataclass(slots=True)
class _RuleState:
    matched: int = 0
    fired: int = 0


class FaultInjector:
    """Applies a plan: `pick()` says which rules fire for a request, and logs each firing."""

    def __init__(self, plan: FaultPlan | None = None, log_size: int = 10000) -> None:
        self.log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self.load(plan or FaultPlan())

    def load(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.loaded_at = time.monotonic()
        self.state = [_RuleState() for _ in plan.rules]

    @property
    def active(self) -> bool:
        return bool(self.plan.rules)

    def pick(
        self,
        method: str,
        path: str,
        ip: str,
        now_ms: int,
        actions: frozenset[str] = REST_ACTIONS,
        *,
        exact_method: bool = False,
        stream: str | None = None,
        log: bool = True,
        claim: Callable[[FaultRule], bool] | None = None,
    ) -> list[FaultRule]:
        """The rules firing for this request, in plan order.

        `actions` limits the kinds considered (REST requests never fire WebSocket rules and the
        other way round); `exact_method` skips rules for any method (WebSocket API requests only
        fire rules naming their method); `stream` is matched against the rule's `stream`. With
        `log=False` the caller records the firing itself (`record`) when it is injected.
        `claim(rule)`, asked just before a due rule fires: False when the caller cannot apply it
        (one before-engine fault already ends the request), so it neither fires nor spends one
        of its `times`.
        """
        if not self.plan.rules:
            return []
        elapsed = time.monotonic() - self.loaded_at
        fired: list[FaultRule] = []
        for rule, st in zip(self.plan.rules, self.state, strict=True):
            if rule.action not in actions:
                continue
            if rule.method == "*":
                if exact_method:
                    continue
            elif rule.method.upper() != method:
                continue
            if rule.path != "*" and not fnmatch.fnmatchcase(path, rule.path):
                continue
            if rule.stream != "*" and (
                stream is None or not fnmatch.fnmatchcase(stream, rule.stream)
            ):
                continue
            if elapsed < rule.start_s or (rule.end_s is not None and elapsed >= rule.end_s):
                continue
            if rule.times is not None and st.fired >= rule.times:
                continue
            st.matched += 1
            if rule.every_nth and st.matched % rule.every_nth:
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            if claim is not None and not claim(rule):
                continue
            st.fired += 1
            fired.append(rule)
            if log:
                self.record(rule, method, path, ip, now_ms)
        return fired

    def record(
        self, rule: FaultRule, method: str, path: str, ip: str, now_ms: int, **detail: Any
    ) -> None:
        """Log one injected fault (the admin API's fault log)."""
        entry: dict[str, Any] = {
            "time": now_ms,
            "rule": rule.label,
            "action": rule.action,
            "method": method,
            "path": path,
            "ip": ip,
        }
        entry.update(detail)
        self.log.append(entry)
