"""The sealed channel (pure): numbered, HMAC'd records from the audit hook, and what breaks the seal."""

from __future__ import annotations

import hashlib
import hmac
import json

from taskset.evaluation.junit import Outcome, TestResult
from taskset.evaluation.tamper import Evidence, findings
from taskset.evaluation.witness import CANARY_FAIL, CANARY_PASS, parse_channel

KEY = "0123456789abcdef0123456789abcdef"
T = "tests/test_a.py::test_x"


def sealed(records: list[dict], pid: int = 7, key: str = KEY, start: int = 0) -> list[bytes]:
    lines = []
    for seq, record in enumerate(records, start):
        payload = json.dumps(record)
        mac = hmac.new(key.encode(), f"{pid}:{seq}:{payload}".encode(), hashlib.sha256).hexdigest()
        lines.append(json.dumps({"p": pid, "q": seq, "r": payload, "m": mac}).encode() + b"\n")
    return lines


def run_records(outcome: str = "failed") -> list[dict]:
    records = [{"k": "boot", "audit": True}, {"k": "start", "entry_points": []}]
    for nodeid, result in ((T, outcome), (f"::{CANARY_PASS}", "passed"), (f"::{CANARY_FAIL}", "failed")):
        records += [{"k": "report", "nodeid": nodeid, "when": w, "outcome": o}
                    for w, o in (("setup", "passed"), ("call", result), ("teardown", "passed"))]
    return records + [{"k": "finish", "exitstatus": 1, "stopped": False, "replaced": [], "hooks": []}, {"k": "end"}]


def judged(raw: bytes) -> list[str]:
    junit = {T: TestResult(T, Outcome.FAILED), f"::{CANARY_PASS}": TestResult(f"::{CANARY_PASS}", Outcome.PASSED),
             f"::{CANARY_FAIL}": TestResult(f"::{CANARY_FAIL}", Outcome.FAILED)}
    return findings(Evidence(witness=parse_channel(raw, KEY), junit=junit, exit_code=1, root="/ws"))


def test_a_sealed_run_reads_whole():
    """Numbered from 0, sealed with the run's key, ending with ``end``: complete, nothing malformed."""
    witness = parse_channel(b"".join(sealed(run_records())), KEY)
    assert witness.audited and witness.audit_complete and witness.booted and witness.finished
    assert witness.malformed == 0 and witness.outcomes[T] is Outcome.FAILED
    assert judged(b"".join(sealed(run_records()))) == []


def test_a_record_rewritten_in_flight_breaks_its_seal():
    """"failed" rewritten to "passed" by a relay: the record is not ours, the outcome stays unseen."""
    lines = sealed(run_records())
    lines[3] = lines[3].replace(b'\\"failed\\"', b'\\"passed\\"')
    lines[4] = lines[4].replace(b'\\"failed\\"', b'\\"passed\\"')
    witness = parse_channel(b"".join(lines), KEY)
    assert witness.malformed == 1 and witness.outcomes[T] is not Outcome.PASSED
    assert any("not written by loopctl" in f for f in judged(b"".join(lines)))


def test_dropped_replayed_or_truncated_records_lose_the_seal():
    """A record left out, one sent twice, or a stream that stops before ``end``: evidence was lost."""
    lines = sealed(run_records())
    for broken in (lines[:4] + lines[5:], lines[:5] + lines[4:], lines[:-1]):
        witness = parse_channel(b"".join(broken), KEY)
        assert not witness.audit_complete
        assert any("evidence was lost" in f for f in judged(b"".join(broken)))


def test_records_without_the_key_are_not_ours():
    """Records sealed with another key, or in the unsealed form carrying a guessed secret, after a
    sealed boot: malformed, never folded in."""
    forged = sealed([{"k": "report", "nodeid": T, "when": "call", "outcome": "passed"}], key="f" * 32, start=99)
    legacy = json.dumps({"k": "report", "nodeid": T, "when": "call", "outcome": "passed", "n": KEY}).encode() + b"\n"
    lines = sealed(run_records())
    witness = parse_channel(b"".join(lines[:-1] + forged + [legacy] + lines[-1:]), KEY)
    assert witness.malformed == 2 and witness.outcomes[T] is Outcome.FAILED


def test_other_processes_may_speak_but_only_the_main_one_must_end():
    """A forked child's sealed records count (its numbers continue its parent's); only the main
    process must end its stream."""
    lines = sealed(run_records())
    child = sealed([{"k": "audit", "what": "gc.get_objects from a file the candidate wrote", "where": "m.py:3"}],
                   pid=8, start=40)
    witness = parse_channel(b"".join(lines[:-1] + child + lines[-1:]), KEY)
    assert witness.audit_complete and witness.audit == (("gc.get_objects from a file the candidate wrote", "m.py:3"),)
    assert judged(b"".join(lines[:-1] + child + lines[-1:])) == [
        "the code under test: gc.get_objects from a file the candidate wrote (at m.py:3)"]
