"""The JUnit parser: pure functions on XML snippets shaped like pytest's xunit1 output."""

from __future__ import annotations

import json

import pytest

from taskset.errors import EvidenceFlood, TestRunError
from taskset.evaluation.junit import Outcome, parse_junit, trim
from taskset.evaluation.limits import EvidenceBudget
from taskset.evaluation.witness import PHASES_LIMIT, parse_channel


def suite(*cases: str, root: str = "testsuites") -> bytes:
    body = "".join(cases)
    if root == "testsuites":
        return f'<testsuites><testsuite name="pytest">{body}</testsuite></testsuites>'.encode()
    return f'<testsuite name="pytest">{body}</testsuite>'.encode()


def case(nodeid: str | None, inner: str = "", classname: str = "tests.test_x", name: str = "t", **props) -> str:
    entries = ([("nodeid", nodeid)] if nodeid else []) + list(props.items())
    xml_props = "".join(f'<property name="{k}" value="{v}"/>' for k, v in entries)
    properties = f"<properties>{xml_props}</properties>" if xml_props else ""
    return f'<testcase classname="{classname}" name="{name}" time="0.25">{properties}{inner}</testcase>'


def test_outcomes_from_elements():
    """failure -> failed, error -> error, skipped -> skipped, nothing -> passed."""
    xml = suite(
        case("a.py::ok"),
        case("a.py::bad", '<failure message="AssertionError: no">E   AssertionError: no</failure>'),
        case("a.py::err", '<error message="failed on setup">E   KeyError: k</error>', exception="KeyError"),
        case("a.py::skip", '<skipped type="pytest.skip" message="later">a.py:3: later</skipped>'),
    )
    results = parse_junit(xml)
    assert {k: r.outcome for k, r in results.items()} == {
        "a.py::ok": Outcome.PASSED,
        "a.py::bad": Outcome.FAILED,
        "a.py::err": Outcome.ERROR,
        "a.py::skip": Outcome.SKIPPED,
    }
    assert results["a.py::bad"].exception == "AssertionError"
    assert results["a.py::err"].exception == "KeyError"
    assert results["a.py::ok"].duration == 0.25
    assert "later" in results["a.py::skip"].message


def test_xfail_is_skipped_and_strict_xpass_is_failed():
    """An xfail counts as skipped (not a pass); an xpass(strict) counts as failed."""
    xml = suite(
        case("a.py::xf", '<skipped type="pytest.xfail" message=""/>'),
        case("a.py::xp", '<failure message="[XPASS(strict)] ">[XPASS(strict)] </failure>'),
    )
    results = parse_junit(xml)
    assert results["a.py::xf"].outcome is Outcome.SKIPPED
    assert results["a.py::xp"].outcome is Outcome.FAILED


def test_call_failure_and_teardown_error_merge_to_error():
    """Two testcases for one id (call failure + teardown error): the worse outcome, error, wins."""
    xml = suite(
        case("a.py::t", '<failure message="assert 0">E   assert 0</failure>', exception="AssertionError"),
        case("a.py::t", '<error message="failed on teardown">E   RuntimeError: td</error>'),
    )
    result = parse_junit(xml)["a.py::t"]
    assert result.outcome is Outcome.ERROR
    assert result.exception == "AssertionError"
    assert "assert 0" in result.message and "RuntimeError: td" in result.message
    assert result.duration == 0.5


def test_requested_but_absent_is_missing():
    """A requested id that never appears in the report is missing."""
    results = parse_junit(suite(case("a.py::ok")), ["a.py::ok", "a.py::gone"])
    assert results["a.py::gone"].outcome is Outcome.MISSING
    assert results["a.py::ok"].outcome is Outcome.PASSED


def test_requested_file_is_covered_by_its_tests():
    """A requested file path is satisfied by the tests under it, not reported missing."""
    results = parse_junit(suite(case("tests/test_a.py::t")), ["tests/test_a.py"])
    assert set(results) == {"tests/test_a.py::t"}


COLLECTION_ERROR = (
    '<testcase classname="" name="tests.test_broken" file="tests/test_broken.py" time="0.000">'
    '<error message="collection failure">ImportError while importing test module.\n'
    "E   ModuleNotFoundError: No module named 'nope'</error></testcase>"
)


def test_collection_error_maps_to_every_requested_id_in_its_file():
    """A collection error becomes an error with collection_error=True for each requested id in the file."""
    requested = ["tests/test_broken.py::test_a", "tests/test_broken.py::C::test_b[x]", "tests/test_ok.py::t"]
    results = parse_junit(suite(COLLECTION_ERROR, case("tests/test_ok.py::t")), requested)
    for nodeid in requested[:2]:
        result = results[nodeid]
        assert result.outcome is Outcome.ERROR and result.collection_error
        assert result.exception == "ModuleNotFoundError"
        assert "No module named 'nope'" in result.message
    assert results["tests/test_ok.py::t"].outcome is Outcome.PASSED
    assert "tests.test_broken" not in results


def test_collection_error_without_file_attribute_matches_by_dotted_name():
    """Old pytest writes no file attribute: the dotted module (or package) name is matched instead."""
    package_error = (
        '<testcase classname="" name="tests.sub" time="0">'
        '<error message="collection failure">E   ImportError: bad package</error></testcase>'
    )
    results = parse_junit(suite(package_error, root="testsuite"), ["tests/sub/test_a.py::t", "tests/other.py::t"])
    assert results["tests/sub/test_a.py::t"].collection_error
    assert results["tests/sub/test_a.py::t"].exception == "ImportError"
    assert results["tests/other.py::t"].outcome is Outcome.MISSING


def test_testcase_without_nodeid_property_is_matched_by_mangled_name():
    """Without our plugin's property, pytest's (classname, name) mangling is reversed for requested ids."""
    nodeid = "tests/test_x.py::TestC::test_f[a-b/c::d]"
    xml = suite(case(None, classname="tests.test_x.TestC", name="test_f[a-b/c::d]"))
    assert parse_junit(xml, [nodeid])[nodeid].outcome is Outcome.PASSED


def test_parametrized_ids_with_separators_are_kept_whole():
    """Node ids with '/', '::', spaces and brackets in their parameters are keys as written."""
    ids = ["t.py::f[a-b/c::d]", "t.py::f[sp ace]", "t.py::f[br[ack]et]"]
    results = parse_junit(suite(*(case(i) for i in ids)), ids)
    assert list(results) == ids


def test_long_messages_keep_head_and_tail():
    """A long failure text keeps its head and its tail (where the exception is)."""
    text = "HEAD" + "x" * 10_000 + "E   ValueError: the end"
    xml = suite(case("a.py::t", f'<failure message="m">{text}</failure>'))
    message = parse_junit(xml)["a.py::t"].message
    assert len(message) < 3200 and message.startswith("HEAD") and message.endswith("the end")
    assert trim("short") == "short"


def test_unreadable_xml_is_a_test_run_error():
    """A truncated report raises TestRunError rather than reading as 'no failures'."""
    with pytest.raises(TestRunError):
        parse_junit(b"<testsuites><testsuite><testcase")


def test_a_report_past_its_limit_stops_at_once():
    """A report with more test cases than the run's budget is a flood (EvidenceFlood, a TestRunError),
    raised at the first case past the limit: what follows, malformed XML included, is never parsed.
    Within the limit the same report parses as before."""
    cases = "".join(case(f"a.py::t{i}", name=f"t{i}") for i in range(50))
    flood = suite(cases)[: -len("</testsuite></testsuites>")] + b"<never closed"
    with pytest.raises(EvidenceFlood, match="more than 10 tests"):
        parse_junit(flood, ["a.py::t0"], limit=10)
    assert isinstance(EvidenceFlood("x"), TestRunError)
    whole = parse_junit(suite(cases), ["a.py::t0"], limit=50)
    assert len(whole) == 50 and whole["a.py::t0"].outcome is Outcome.PASSED


def test_a_channel_past_its_limit_stops_at_once():
    """The channel's reader stops (``flooded``) at the first record past the budget of distinct tests,
    or past PHASES_LIMIT records of one test; within it nothing is flagged."""
    def record(nodeid: str) -> bytes:
        return json.dumps({"k": "report", "nodeid": nodeid, "when": "call", "outcome": "passed"}).encode() + b"\n"

    many = b"".join(record(f"a.py::t{i}") for i in range(100))
    assert parse_channel(many, limit=10).flooded and len(parse_channel(many, limit=10).outcomes) <= 11
    assert not parse_channel(many, limit=100).flooded
    assert parse_channel(record("a.py::t") * (PHASES_LIMIT + 1), limit=10).flooded


def test_the_evidence_budget_scales_with_the_request():
    """A couple of node ids get a small budget (a flood is caught early); a requested file a large one;
    neither passes the absolute caps."""
    ids = EvidenceBudget.for_request(["a.py::t1", "a.py::t2"])
    files = EvidenceBudget.for_request(["tests/test_a.py"])
    assert ids.tests < 2000 and ids.channel_bytes < 8 * 1024**2 and ids.report_bytes < 32 * 1024**2
    assert files.tests > 10 * ids.tests and ids.report_cases == 2 * ids.tests
    assert files.channel_bytes <= 64 * 1024**2 and files.report_bytes <= 64 * 1024**2


def test_a_test_module_of_tens_of_thousands_of_tests_is_no_flood():
    """A module of 30,000 tests (heavily parametrized suites reach that) run whole, as the miner
    runs touched modules, is within its budget: the budget per path was 20,000."""
    one = "".join(f'{{"k": "report", "nodeid": "t.py::t{i}", "when": "call", "outcome": "passed"}}\n'
                  for i in range(30_000)).encode()
    budget = EvidenceBudget.for_request(["t.py"])
    witness = parse_channel(one, limit=budget.tests)
    assert not witness.flooded and len(witness.outcomes) == 30_000
    assert len(one) < budget.channel_bytes
