"""Pure parser: pytest's JUnit XML (xunit1, with our plugin's properties) -> per-test results.

Node ids come from the ``nodeid`` property our plugin writes; a testcase without one (a
collection error, or a pytest run without the plugin) is matched by pytest's own name mangling.
Every requested id gets a result: one that never appears is ``missing``, never "not failed".
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from taskset.errors import EvidenceFlood, TestRunError

MESSAGE_LIMIT = 3000
"""Characters of failure text kept per test (head and tail)."""

CHUNK = 1 << 16
"""Bytes of report fed to the parser at a time."""

COLLECTION_FAILURE = "collection failure"
"""The message pytest gives a collection error's testcase (4.6 through 9)."""


class Outcome(str, enum.Enum):
    """One test's outcome. Only ``passed`` is a pass."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    MISSING = "missing"


# When one node id has several testcases (a call failure plus a teardown error), the worst wins.
_SEVERITY = {Outcome.PASSED: 0, Outcome.SKIPPED: 1, Outcome.MISSING: 2, Outcome.FAILED: 3, Outcome.ERROR: 4}


@dataclass(frozen=True)
class TestResult:
    """The outcome of one requested or reported test."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: Outcome
    duration: float = 0.0
    """Seconds, as pytest reported them."""
    message: str = ""
    """The trimmed failure, error or skip text."""
    exception: str = ""
    """The failing exception's type name (``AssertionError``, ``ImportError``), when known."""
    collection_error: bool = False
    """The test's module (or a package above it) failed to import."""


def trim(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Keep the head and tail of ``text`` (the tail holds the exception), marking the cut."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[-tail:]}"


def parse_junit(xml: bytes, requested: Sequence[str] = (), limit: int | None = None) -> dict[str, TestResult]:
    """Map node ids to results: every reported test, plus every requested id (``missing`` if unseen).

    The report is read as a stream, each test case dropped once read. Raises EvidenceFlood as soon
    as it holds more than ``limit`` test cases (nothing after is parsed), TestRunError when the XML
    cannot be parsed.
    """
    by_mangled = {_mangle(test): test for test in requested}
    results: dict[str, TestResult] = {}
    collection_errors: list[tuple[str, TestResult]] = []
    parser: ET.XMLPullParser = ET.XMLPullParser(events=("end",))
    seen = 0
    try:
        for start in range(0, max(len(xml), 1), CHUNK):
            parser.feed(xml[start:start + CHUNK])
            for _, case in cast("Iterator[tuple[str, object]]", parser.read_events()):
                if not isinstance(case, ET.Element) or case.tag != "testcase":
                    continue
                seen += 1
                if limit is not None and seen > limit:
                    raise EvidenceFlood(f"the JUnit report names more than {limit} tests, far more than were asked for")
                nodeid, result = _read_case(case, by_mangled)
                file = case.get("file") or ""
                case.clear()  # a flood of cases must not become a tree in memory
                if nodeid is None:
                    collection_errors.append((file, result))
                    continue
                results[nodeid] = _worse(results.get(nodeid), result)
        parser.close()
    except ET.ParseError as exc:
        raise TestRunError(f"unreadable JUnit XML ({exc})") from None
    for test in requested:
        if test in results or _covered(test, results):
            continue
        results[test] = _collection_result(test, collection_errors) or TestResult(test, Outcome.MISSING)
    return results


def result_for(test: str, results: Mapping[str, TestResult]) -> TestResult:
    """The result for one requested id; a file (or class) takes the first non-passing test under it."""
    if test in results:
        return results[test]
    below = [r for nodeid, r in results.items() if nodeid.startswith((test + "::", test + "["))]
    failing = [r for r in below if r.outcome is not Outcome.PASSED]
    if failing:
        return failing[0]
    return below[0] if below else TestResult(test, Outcome.MISSING)


def _read_case(case: ET.Element, by_mangled: dict[tuple[str, str], str]) -> tuple[str | None, TestResult]:
    """One testcase -> (node id, result); node id None marks a collection error."""
    props = [(p.get("name"), p.get("value") or "") for p in case.iter("property")]
    nodeid = next((value for name, value in props if name == "nodeid"), "")
    exception = next((value for name, value in props if name == "exception"), "")
    outcome, message = _outcome(case)
    duration = _float(case.get("time"))
    if not nodeid:
        error = case.find("error")
        if error is not None and error.get("message") == COLLECTION_FAILURE:
            name = case.get("name") or ""
            return None, TestResult(name, Outcome.ERROR, duration, message, _exception_in(message), True)
        key = (case.get("classname") or "", case.get("name") or "")
        nodeid = by_mangled.get(key) or "::".join(part for part in key if part)
    exception = exception or (_exception_in(message) if outcome in (Outcome.FAILED, Outcome.ERROR) else "")
    return nodeid, TestResult(nodeid, outcome, duration, message, exception)


def _outcome(case: ET.Element) -> tuple[Outcome, str]:
    for tag, outcome in (("error", Outcome.ERROR), ("failure", Outcome.FAILED), ("skipped", Outcome.SKIPPED)):
        element = case.find(tag)
        if element is not None:
            text = element.text or ""
            # strip only blank lines: the first line's indentation aligns pytest's '>' marker
            text = text.strip("\n").rstrip() if text.strip() else element.get("message") or ""
            return outcome, trim(text)
    return Outcome.PASSED, ""


def _worse(old: TestResult | None, new: TestResult) -> TestResult:
    if old is None:
        return new
    worst, other = (new, old) if _SEVERITY[new.outcome] >= _SEVERITY[old.outcome] else (old, new)
    message = "\n".join(m for m in (other.message, worst.message) if m)
    return TestResult(
        worst.nodeid,
        worst.outcome,
        old.duration + new.duration,
        trim(message),
        old.exception or new.exception,
        worst.collection_error,
    )


def _covered(test: str, results: Iterable[str]) -> bool:
    """A requested file path (or class, or unparametrized name) is seen if any test below it is."""
    return any(nodeid.startswith((test + "::", test + "[")) for nodeid in results)


def _collection_result(test: str, errors: list[tuple[str, TestResult]]) -> TestResult | None:
    """The collection error that swallowed ``test``: its file, or a package/directory above it."""
    path = test.split("::", 1)[0]
    dotted = re.sub(r"\.py$", "", path).replace("/", ".")
    for file, error in errors:
        name = error.nodeid
        same_file = bool(file) and (path == file or path.startswith(file.rstrip("/") + "/"))
        if same_file or not name or dotted == name or dotted.startswith(name + "."):
            return TestResult(test, Outcome.ERROR, 0.0, error.message, error.exception, True)
    return None


def _mangle(nodeid: str) -> tuple[str, str]:
    """pytest's xunit1 (classname, name) for a node id; params stay one opaque bracket."""
    address, bracket, params = nodeid.partition("[")
    names = address.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


_EXCEPTION_LINE = re.compile(r"^E\s+([A-Za-z_][\w.]*)(?::|$)", re.MULTILINE)
_EXCEPTION_HEAD = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failed)):")


def _exception_in(text: str) -> str:
    """Guess an exception's type name from pytest's failure text (its ``E   Name: ...`` line)."""
    match = _EXCEPTION_LINE.search(text) or _EXCEPTION_HEAD.search(text)
    return match.group(1) if match else ""


def _float(value: str | None) -> float:
    try:
        return float(value or 0.0)
    except ValueError:
        return 0.0
