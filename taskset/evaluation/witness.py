"""Pure parser: the plugin's live channel (JSON lines) -> what the test process said as it ran.

The channel is a second witness beside the JUnit report: every phase's outcome as pytest first
learned it, a hash of each test module as it was about to be imported, and a closing record
(pytest's exit status, whether the session stopped early, which pieces of pytest's reporting
were replaced and by which file). ``taskset.evaluation.tamper`` holds the two witnesses against each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from taskset.evaluation.junit import Outcome

CANARY_PASS = "loopctl-canary-pass"
CANARY_FAIL = "loopctl-canary-fail"
"""Names of the plugin's canary tests (their node ids end with ``::<name>``)."""

LINE_LIMIT = 1 << 20
"""A longer channel line is not one the plugin wrote."""
PHASES_LIMIT = 100_000
"""Phase records one test may send. Three is usual, but honest suites send far more: more-itertools'
unittest cases reported over 64 for one id (a limit of 64 judged three gold runs of its recall
fixes tampered). The channel's byte cap bounds what a flood costs; this bounds one id's list."""

PROGRAMS_LIMIT = 1000
"""Program records kept (the audit hook sends 100 per process at most)."""


@dataclass(frozen=True)
class Witness:
    """Everything the channel said, folded per test."""

    booted: bool = False
    """The boot script spoke: the sandbox and the interpreter started."""
    started: bool = False
    finished: bool = False
    exitstatus: int | None = None
    """pytest's own exit status, from its session-finish hook."""
    stopped: bool = False
    """The session stopped early (``-x``, ``--maxfail``): tests after the stop never ran."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """Per node id, folded like the JUnit report folds it (setup/teardown failure = error)."""
    collected: dict[str, str] = field(default_factory=dict)
    """Absolute path of each test module -> sha256 of its bytes just before import."""
    collect_errors: tuple[str, ...] = ()
    replaced: tuple[tuple[str, str, bool], ...] = ()
    """(what, file its code names, whether that claim is false) for each watched piece of pytest
    that is not the object pytest started with."""
    hooks: tuple[tuple[str, str, bool], ...] = ()
    """(hook, file, from a plugin the environment declares) for every hook implementation at session end."""
    altered_tests: tuple[tuple[str, str], ...] = ()
    """(node id, what) for each test whose function did not match its module's source when it ran."""
    test_origins: tuple[tuple[str, str], ...] = ()
    """(node id, file) for each test whose function's code came from another file than its module."""
    entry_points: tuple[str, ...] = ()
    """Files of the plugins pytest loaded from entry points."""
    registered: tuple[tuple[str, str], ...] = ()
    """(plugin name, file of its hooks) for every plugin registered during the run."""
    audited: bool = False
    """The audit hook sealed the channel (Python 3.8 on): records are numbered and HMAC'd."""
    audit_complete: bool = False
    """The main process's records arrived numbered without a gap, ending with its ``end``."""
    audit: tuple[tuple[str, str], ...] = ()
    """(what, where) for each act the audit hook reported."""
    programs: tuple[str, ...] = ()
    """Each program the tests started, once, as they named it (a bare name or a path): not evidence."""
    malformed: int = 0
    """Lines that were not records of ours."""
    flooded: bool = False
    """The channel named more tests (or phases of one) than the run allows: read no further."""

    def canary(self, name: str) -> Outcome | None:
        """The outcome of the canary ``name`` (None when it never reported)."""
        for nodeid, outcome in self.outcomes.items():
            if nodeid.endswith("::" + name) or nodeid == name:
                return outcome
        return None

    def tests(self) -> dict[str, Outcome]:
        """Outcomes of the real tests (canaries left out)."""
        return {n: o for n, o in self.outcomes.items() if not is_canary(n)}


def is_canary(nodeid: str) -> bool:
    """True for the node id of one of the plugin's canaries."""
    return nodeid.endswith(("::" + CANARY_PASS, "::" + CANARY_FAIL)) or nodeid in (CANARY_PASS, CANARY_FAIL)


def parse_channel(raw: bytes, nonce: str | None = None, limit: int | None = None) -> Witness:
    """Fold the channel's bytes into a Witness; lines that are not ours are counted, not trusted.

    With ``nonce`` (the run's secret), a record must be sealed with it (an HMAC over the process,
    the sequence number and the record, from the audit hook) or, on an interpreter without audit
    hooks, carry it; anything else is not ours. With ``limit``, reading stops (``flooded``) at the
    first record past ``limit`` distinct tests or modules, or past ``PHASES_LIMIT`` records of one test.
    """
    fold_ = _Folder()
    for line in _lines(raw):
        if limit is not None and fold_.past(limit):
            fold_.flooded = True
            break
        if not line.strip():
            continue
        record = _record(line)
        if record is not None and "m" in record:
            record = fold_.unseal(record, nonce)
        elif record is not None and nonce is not None and (record.get("n") != nonce or fold_.audited):
            record = None
        if record is None:
            fold_.malformed += 1  # not a record, or not one of ours
            continue
        try:
            fold_.add(record)
        except (TypeError, ValueError, AttributeError):  # a record of ours never has these shapes
            fold_.malformed += 1
    if limit is not None and fold_.past(limit):  # the last record may be the one past the limit
        fold_.flooded = True
    return fold_.witness()


class _Folder:
    """The channel's records, folded one at a time (see parse_channel)."""

    def __init__(self) -> None:
        self.booted = self.started = self.finished = self.stopped = self.audited = self.ended = False
        self.exitstatus: int | None = None
        self.phases: dict[str, list[tuple[str, str, bool]]] = {}
        self.collected: dict[str, str] = {}
        self.collect_errors: list[str] = []
        self.replaced: list[tuple[str, str, bool]] = []
        self.hooks: list[tuple[str, str, bool]] = []
        self.tests: list[tuple[str, str]] = []
        self.origins: list[tuple[str, str]] = []
        self.entry_points: list[str] = []
        self.registered: list[tuple[str, str]] = []
        self.audit: list[tuple[str, str]] = []
        self.programs: list[str] = []
        self.main_pid: int | None = None
        self.longest = 0
        self.next_seq = 0
        self.gap = False
        self.malformed = 0
        self.flooded = False

    def past(self, limit: int) -> bool:
        """True once more distinct tests or modules were reported than ``limit``, or one test's
        phases passed ``PHASES_LIMIT``: a flood, not a test run."""
        return (len(self.phases) + len(self.collected) + len(self.collect_errors) > limit
                or self.longest > PHASES_LIMIT)

    def unseal(self, envelope: dict, key: str | None) -> dict | None:
        """The record inside a sealed envelope, or None when the seal does not hold."""
        pid, seq, payload, mac = envelope.get("p"), envelope.get("q"), envelope.get("r"), envelope.get("m")
        if not (type(pid) is int and type(seq) is int and isinstance(payload, str) and isinstance(mac, str)):
            return None
        if key is not None:
            expected = hmac.new(key.encode("ascii"), f"{pid}:{seq}:{payload}".encode("utf-8", "replace"),
                                hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, mac):
                return None
        record = _record(payload.encode("utf-8", "replace"))
        if record is None:
            return None
        if self.main_pid is None:
            if record.get("k") != "boot":
                return None
            self.main_pid, self.audited = pid, True
        if pid == self.main_pid:
            if seq != self.next_seq or self.ended:
                self.gap = True
            self.next_seq = seq + 1
            if record.get("k") == "end":
                self.ended = True
        return record

    def add(self, record: dict) -> None:
        """Fold one record of ours in (a shape ours never has raises TypeError/ValueError)."""
        kind = record.get("k")
        if kind == "boot":
            self.booted = True
        elif kind == "end":
            pass
        elif kind == "audit":
            if len(self.audit) < 100:
                self.audit.append((str(record.get("what", "")), str(record.get("where", ""))))
        elif kind == "program":
            if len(self.programs) < PROGRAMS_LIMIT:
                self.programs.append(str(record.get("name", "")))
        elif kind == "start":
            self.started = True
            self.entry_points = _strings(record.get("entry_points", []))
        elif kind == "report" and isinstance(record.get("nodeid"), str):
            phase = self.phases.setdefault(record["nodeid"], [])
            phase.append((str(record.get("when")), str(record.get("outcome")), bool(record.get("xfail"))))
            self.longest = max(self.longest, len(phase))
        elif kind == "collect" and isinstance(record.get("path"), str):
            self.collected.setdefault(record["path"], str(record.get("sha256", "")))
        elif kind == "collect-error":
            self.collect_errors.append(str(record.get("nodeid", "")))
        elif kind in ("altered", "origin", "replaced", "registered"):
            self._evidence(kind, record)
        elif kind == "finish" and not self.finished:
            status = record.get("exitstatus")
            self.replaced += _triples(record.get("replaced", []), "name", "file", "forged")
            self.hooks = _triples(record.get("hooks", []), "hook", "file", "entry_point")
            self.tests += [(n, why) for n, why, _ in _triples(record.get("tests", []), "nodeid", "problem", "")]
            self.origins += [(n, file) for n, file, _ in _triples(record.get("origins", []), "nodeid", "file", "")]
            self.finished, self.stopped = True, bool(record.get("stopped"))
            self.exitstatus = status if isinstance(status, int) and not isinstance(status, bool) else None
        else:
            self.malformed += 1

    def _evidence(self, kind: str, record: dict) -> None:
        if kind == "altered":
            self.tests.append((str(record.get("nodeid", "")), str(record.get("problem", ""))))
        elif kind == "origin":
            self.origins.append((str(record.get("nodeid", "")), str(record.get("file", ""))))
        elif kind == "replaced":
            self.replaced.append((str(record.get("name", "")), str(record.get("file", "")),
                                  bool(record.get("forged"))))
        elif len(self.registered) < 1000:
            self.registered.append((str(record.get("name", "")), str(record.get("file", ""))))

    def witness(self) -> Witness:
        """Everything folded so far."""
        return Witness(
            booted=self.booted, started=self.started, finished=self.finished, exitstatus=self.exitstatus,
            stopped=self.stopped, outcomes={nodeid: fold(p) for nodeid, p in self.phases.items()},
            collected=self.collected, collect_errors=tuple(self.collect_errors),
            replaced=tuple(dict.fromkeys(self.replaced)), hooks=tuple(self.hooks),
            altered_tests=tuple(dict.fromkeys(self.tests)), test_origins=tuple(dict.fromkeys(self.origins)),
            entry_points=tuple(self.entry_points), registered=tuple(dict.fromkeys(self.registered)),
            audited=self.audited, audit_complete=self.audited and self.ended and not self.gap,
            audit=tuple(dict.fromkeys(self.audit)), programs=tuple(dict.fromkeys(self.programs)),
            malformed=self.malformed, flooded=self.flooded,
        )


def _lines(raw: bytes):
    """The lines of ``raw`` one at a time (a flood is never split into a list whole)."""
    start = 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        yield raw[start:end]
        start = end + 1


def fold(phases: list[tuple[str, str, bool]]) -> Outcome:
    """One test's phases -> its outcome, as pytest's JUnit writer (xunit1) reports it."""
    if any(outcome == "failed" and when != "call" for when, outcome, _ in phases):
        return Outcome.ERROR
    if any(outcome == "failed" for _, outcome, _ in phases):
        return Outcome.FAILED
    if any(outcome == "skipped" for _, outcome, _ in phases):
        return Outcome.SKIPPED
    if any(when == "call" and outcome == "passed" for when, outcome, _ in phases):
        return Outcome.PASSED
    return Outcome.MISSING


def _record(line: bytes) -> dict | None:
    if len(line) > LINE_LIMIT:
        return None
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting is not ours either
        return None
    return record if isinstance(record, dict) else None


def _strings(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError("not a list of strings")
    return list(value)


def _triples(value, first: str, second: str, flag: str) -> list[tuple[str, str, bool]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TypeError("not a list of records")
    return [(str(item.get(first, "")), str(item.get(second, "")), bool(item.get(flag))) for item in value]
