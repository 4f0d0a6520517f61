"""Pure cross-checks: do the run's witnesses agree? Any disagreement is evidence of tampering.

Three witnesses of one run: the JUnit report (written by pytest at the end, inside the process
under test), the live channel (each outcome as it happened), and the process's exit code; plus
the hashes of the protected test files before, during and after the run. Code under test can
lie through one of them; lying consistently through all of them takes patching pytest in
process, which the canaries and the replaced-pieces record are there to show. Each finding is
one sentence; an empty list means the witnesses agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from taskset.evaluation.junit import Outcome, TestResult
from taskset.evaluation.witness import CANARY_FAIL, CANARY_PASS, Witness, is_canary

EXIT_INTERNAL_ERROR = 3
EXIT_USAGE_ERROR = 4


@dataclass(frozen=True)
class Evidence:
    """What the runner gathered about one finished (not timed-out) run."""

    witness: Witness
    junit: Mapping[str, TestResult] | None
    """The parsed JUnit report; None when there was none."""
    exit_code: int | None
    root: str
    """The workspace, absolute: files named by the witness are judged relative to it."""
    before: Mapping[str, str] = field(default_factory=dict)
    """Protected file (relative path) -> sha256 before the run."""
    after: Mapping[str, str] = field(default_factory=dict)
    """The same files' hashes after the run ("" for a file that vanished)."""
    suspects: frozenset[str] = frozenset()
    """Relative paths the candidate wrote: code from them may not reshape reporting."""
    known: frozenset[str] | None = None
    """Relative paths of the workspace's files before the run: code from any other workspace file
    was written during the run (None: not known, only ``suspects`` count)."""
    trusted: tuple[str, ...] = ()
    """Folders outside the workspace code may legitimately come from: the environment, the
    interpreter's standard library, our plugin."""
    canaries: bool = True


def findings(evidence: Evidence) -> list[str]:
    """Every disagreement between the witnesses, one sentence each (empty when they agree)."""
    found: list[str] = []
    found += _process(evidence)
    found += _canaries(evidence)
    found += _outcomes(evidence)
    found += _files(evidence)
    found += _patching(evidence)
    found += _audit(evidence)
    return found


def _process(ev: Evidence) -> list[str]:
    w = ev.witness
    ran = ev.junit is not None and any(r.outcome is not Outcome.MISSING for r in ev.junit.values())
    found = []
    if not w.started and (ran or ev.exit_code == 0):
        found.append("the live channel stayed silent although pytest reported results")
    if w.started and not w.finished and (ran or ev.exit_code == 0):
        found.append("pytest's session never finished, yet the process reported results")
    if w.finished and w.exitstatus is not None and ev.exit_code is not None and w.exitstatus != ev.exit_code:
        found.append(f"the process exited {ev.exit_code} but pytest's session ended with status {w.exitstatus}")
    if ev.canaries and ev.exit_code == 0:
        found.append("pytest exited 0 although a canary test must fail")
    if w.malformed:
        found.append(f"{w.malformed} line(s) on the live channel were not written by loopctl's plugin")
    if w.audited and not w.audit_complete and (ran or ev.exit_code == 0):
        found.append("the test process's sealed records stopped short or skipped a number: evidence was lost")
    return found


def _canaries(ev: Evidence) -> list[str]:
    if not ev.canaries or not ev.witness.started:
        return []
    found = []
    expected = {CANARY_PASS: Outcome.PASSED, CANARY_FAIL: Outcome.FAILED}
    for name, want in expected.items():
        live = ev.witness.canary(name)
        if live is None:
            # pytest's own crash or a usage error ends a session before any test; an early stop
            # (-x, --maxfail) ends it before the canaries. Anything else that skips them is a cut.
            ended_normally = ev.witness.exitstatus not in (EXIT_INTERNAL_ERROR, EXIT_USAGE_ERROR)
            if ev.witness.finished and not ev.witness.stopped and ended_normally:
                found.append(f"the canary test {name} never ran")
            continue
        if live is not want:
            found.append(f"the canary test {name} came out {live.value}, not {want.value}")
        reported = _junit_canary(ev.junit, name)
        if ev.junit is not None and reported is not want:
            shown = reported.value if reported else "absent"
            found.append(f"the JUnit report shows the canary test {name} {shown}, not {want.value}")
    return found


def _outcomes(ev: Evidence) -> list[str]:
    if ev.junit is None or not ev.witness.started:
        return []
    # Only the direction that could make a candidate look better is evidence: a report that
    # passes what the live channel saw fail, or passes what never ran.
    live = ev.witness.tests()
    found = []
    for nodeid, result in ev.junit.items():
        if is_canary(nodeid) or result.outcome is not Outcome.PASSED:
            continue
        seen = live.get(nodeid)
        if seen is None:
            found.append(f"{nodeid}: passed in the JUnit report but never ran")
        elif seen is not Outcome.PASSED:
            found.append(f"{nodeid}: passed in the JUnit report, {seen.value} on the live channel")
    for nodeid, outcome in live.items():
        if outcome in (Outcome.FAILED, Outcome.ERROR) and nodeid not in ev.junit:
            found.append(f"{nodeid}: {outcome.value} on the live channel but absent from the JUnit report")
    return found[:20]


def _files(ev: Evidence) -> list[str]:
    found = []
    for path, digest in ev.witness.collected.items():
        rel = _relative(path, ev.root)
        if rel is not None and rel in ev.before and digest and digest != ev.before[rel]:
            found.append(f"{rel} was changed before pytest collected it")
    for rel, digest in ev.before.items():
        if ev.after.get(rel, digest) != digest:
            found.append(f"{rel} was changed during the run")
    return found


def _patching(ev: Evidence) -> list[str]:
    found = []
    for what, file, forged in ev.witness.replaced:
        if forged:
            found.append(f"pytest's {what} was replaced by code that lies about its origin ({_shown(file, ev.root)})")
        elif _foreign(file, ev):
            found.append(f"pytest's {what} was replaced by code from {_shown(file, ev.root)}")
    for hook, file, declared in ev.witness.hooks:
        if not declared and _foreign(file, ev):
            found.append(f"a {hook} hook was installed from {_shown(file, ev.root)}")
    for nodeid, why in ev.witness.altered_tests:
        found.append(f"{nodeid}: {why}")
    for nodeid, file in ev.witness.test_origins:
        if _foreign(file, ev):
            found.append(f"{nodeid}: its function's code comes from {_shown(file, ev.root)}")
    for name, file in ev.witness.registered:
        if file not in ev.witness.entry_points and _foreign(file, ev):
            found.append(f"a plugin ({name or 'unnamed'}) was registered with hooks from {_shown(file, ev.root)}")
    for file in ev.witness.entry_points:
        if _relative(file, ev.root) is not None:
            found.append("a pytest plugin was loaded from package metadata inside the workspace "
                         f"({_shown(file, ev.root)})")
    return found[:20]


def _audit(ev: Evidence) -> list[str]:
    """What the audit hook saw the code under test do to the machinery (each is tampering)."""
    return [f"the code under test: {what}" + (f" (at {where})" if where else "")
            for what, where in ev.witness.audit[:20]]


def _foreign(file: str, ev: Evidence) -> bool:
    """Code from a file the candidate wrote, a workspace file written during the run, a place no
    code of the run should come from (a temp folder, say), or no file at all (text it compiled)."""
    if not file or file.startswith("<") or not os.path.isabs(file):
        return True
    rel = _relative(file, ev.root)
    if rel is not None:
        return rel in ev.suspects or (ev.known is not None and rel not in ev.known)
    return not any(_relative(file, root) is not None for root in ev.trusted)


def _junit_canary(junit: Mapping[str, TestResult] | None, name: str) -> Outcome | None:
    for nodeid, result in (junit or {}).items():
        if nodeid.endswith("::" + name) or nodeid == name:
            return result.outcome
    return None


def _relative(path: str, root: str) -> str | None:
    root = root.rstrip("/") + "/"
    return path[len(root):] if path.startswith(root) else None


def _shown(file: str, root: str) -> str:
    return _relative(file, root) or file or "(no file)"
