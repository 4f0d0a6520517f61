"""Pure parser: the plugin's live channel (JSON lines) -> what the test process said as it ran.

The channel is a second witness beside the JUnit report: every phase's outcome as pytest first
learned it, a hash of each test module as it was about to be imported, and a closing record
(pytest's exit status, whether the session stopped early, which pieces of pytest's reporting
were replaced and by which file). ``taskset.evaluation.tamper`` holds the two witnesses against each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from taskset.evaluation.junit import Outcome

CANARY_PASS = "loopctl-canary-pass"
CANARY_FAIL = "loopctl-canary-fail"
"""Names of the plugin's canary tests (their node ids end with ``::<name>``)."""

LINE_LIMIT = 1 << 20
"""A longer channel line is not one the plugin wrote."""
PHASES_LIMIT = 64
"""Phase records one test may send (setup, call, teardown; a rerun plugin repeats them a few times)."""


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

    With ``nonce``, a record must carry it (the run's secret, which the code under test never saw
    on the wire) or it is not ours. With ``limit``, reading stops (``flooded``) at the first record
    past ``limit`` distinct tests or modules, or past ``PHASES_LIMIT`` records of one test.
    """
    booted = started = finished = stopped = False
    exitstatus = None
    phases: dict[str, list[tuple[str, str, bool]]] = {}
    collected: dict[str, str] = {}
    collect_errors: list[str] = []
    replaced: list[tuple[str, str, bool]] = []
    hooks: list[tuple[str, str, bool]] = []
    tests: list[tuple[str, str]] = []
    origins: list[tuple[str, str]] = []
    entry_points: list[str] = []
    malformed = 0
    flooded = False
    for line in _lines(raw):
        if limit is not None and len(phases) + len(collected) + len(collect_errors) > limit:
            flooded = True
            break
        if not line.strip():
            continue
        record = _record(line)
        if record is None or (nonce is not None and record.get("n") != nonce):
            malformed += 1  # not a record, or not one of ours
            continue
        kind = record.get("k")
        try:
            if kind == "boot":
                booted = True
            elif kind == "start":
                started = True
                entry_points = _strings(record.get("entry_points", []))
            elif kind == "report" and isinstance(record.get("nodeid"), str):
                phase = phases.setdefault(record["nodeid"], [])
                phase.append((str(record.get("when")), str(record.get("outcome")), bool(record.get("xfail"))))
                if limit is not None and len(phase) > PHASES_LIMIT:
                    flooded = True
                    break
            elif kind == "collect" and isinstance(record.get("path"), str):
                collected.setdefault(record["path"], str(record.get("sha256", "")))
            elif kind == "collect-error":
                collect_errors.append(str(record.get("nodeid", "")))
            elif kind == "finish" and not finished:
                status = record.get("exitstatus")
                replaced = _triples(record.get("replaced", []), "name", "file", "forged")
                hooks = _triples(record.get("hooks", []), "hook", "file", "entry_point")
                tests = [(nodeid, why) for nodeid, why, _ in _triples(record.get("tests", []), "nodeid", "problem", "")]
                origins = [(nodeid, file)
                           for nodeid, file, _ in _triples(record.get("origins", []), "nodeid", "file", "")]
                finished, stopped = True, bool(record.get("stopped"))
                exitstatus = status if isinstance(status, int) and not isinstance(status, bool) else None
            else:
                malformed += 1
        except (TypeError, ValueError, AttributeError):  # a record of ours never has these shapes
            malformed += 1
    return Witness(
        booted=booted,
        started=started,
        finished=finished,
        exitstatus=exitstatus,
        stopped=stopped,
        outcomes={nodeid: fold(p) for nodeid, p in phases.items()},
        collected=collected,
        collect_errors=tuple(collect_errors),
        replaced=tuple(replaced),
        hooks=tuple(hooks),
        altered_tests=tuple(tests),
        test_origins=tuple(origins),
        entry_points=tuple(entry_points),
        malformed=malformed,
        flooded=flooded,
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
