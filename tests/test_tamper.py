"""Pure pieces of the evaluator: the channel parser, the tamper rules, the config search, the read-only set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskset.evaluation.junit import Outcome, TestResult
from taskset.evaluation.protect import read_only_files
from taskset.evaluation.tamper import Evidence, findings
from taskset.evaluation.witness import CANARY_FAIL, CANARY_PASS, fold, parse_channel
from taskset.workspace.pytestconfig import find_config

ROOT = "/ws"
T = "tests/test_a.py::test_x"
PASS = f"::{CANARY_PASS}"
FAIL = f"::{CANARY_FAIL}"


def channel(*records: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def report(nodeid: str, when: str, outcome: str, xfail: bool = False) -> dict:
    return {"k": "report", "nodeid": nodeid, "when": when, "outcome": outcome, "xfail": xfail}


def honest(test_outcome: str = "passed", **finish) -> bytes:
    """What an honest run of one test says: boot, start, the test's phases, the canaries, finish."""
    return channel(
        {"k": "boot"}, {"k": "start", "entry_points": []},
        {"k": "collect", "path": f"{ROOT}/tests/test_a.py", "sha256": "h1"},
        report(T, "setup", "passed"), report(T, "call", test_outcome), report(T, "teardown", "passed"),
        report(PASS, "setup", "passed"), report(PASS, "call", "passed"), report(PASS, "teardown", "passed"),
        report(FAIL, "setup", "passed"), report(FAIL, "call", "failed"), report(FAIL, "teardown", "passed"),
        {"k": "finish", "exitstatus": 1, "stopped": False, "replaced": [], "hooks": [], **finish},
    )


def junit(test_outcome: Outcome = Outcome.PASSED, canaries: bool = True) -> dict[str, TestResult]:
    results = {T: TestResult(T, test_outcome)}
    if canaries:
        results[PASS] = TestResult(PASS, Outcome.PASSED)
        results[FAIL] = TestResult(FAIL, Outcome.FAILED)
    return results


def evidence(raw: bytes, results=None, exit_code: int | None = 1, **kw) -> Evidence:
    return Evidence(witness=parse_channel(raw), junit=junit() if results is None else results, exit_code=exit_code,
                    root=ROOT, before=kw.pop("before", {"tests/test_a.py": "h1"}), **kw)


def test_an_honest_run_has_no_findings():
    """Passing or failing, an honest run's witnesses agree."""
    assert findings(evidence(honest())) == []
    assert findings(evidence(honest("failed"), junit(Outcome.FAILED))) == []


@pytest.mark.parametrize(
    "phases, outcome",
    [
        ([("setup", "passed", False), ("call", "passed", False), ("teardown", "passed", False)], Outcome.PASSED),
        ([("setup", "failed", False)], Outcome.ERROR),
        ([("setup", "passed", False), ("call", "passed", False), ("teardown", "failed", False)], Outcome.ERROR),
        ([("setup", "passed", False), ("call", "failed", False), ("teardown", "passed", False)], Outcome.FAILED),
        ([("setup", "skipped", False)], Outcome.SKIPPED),
        ([("setup", "passed", False), ("call", "skipped", True)], Outcome.SKIPPED),
        ([("setup", "passed", False)], Outcome.MISSING),
    ],
    ids=["passed", "setup-error", "teardown-error", "failed", "skipped", "xfail", "never-called"],
)
def test_phases_fold_as_the_junit_report_does(phases, outcome):
    """A setup or teardown failure is an error, a call failure a failure, xfail a skip (xunit1)."""
    assert fold(phases) is outcome


def test_lines_that_are_not_ours_are_counted_not_trusted():
    raw = honest() + b"garbage\n" + b'{"k": "report", "nodeid": 3}\n' + b"[1, 2]\n"
    witness = parse_channel(raw)
    assert witness.malformed == 3 and witness.outcomes[T] is Outcome.PASSED
    assert any("not written by loopctl" in f for f in findings(evidence(raw)))


def test_a_report_that_passes_what_failed_is_tampering():
    """The JUnit report says passed, the live channel saw the call fail."""
    found = findings(evidence(honest("failed"), junit(Outcome.PASSED)))
    assert found == [f"{T}: passed in the JUnit report, failed on the live channel"]


def test_a_report_that_passes_what_never_ran_is_tampering():
    raw = honest().replace(json.dumps(report(T, "call", "passed")).encode() + b"\n", b"")
    raw = raw.replace(json.dumps(report(T, "setup", "passed")).encode() + b"\n", b"")
    raw = raw.replace(json.dumps(report(T, "teardown", "passed")).encode() + b"\n", b"")
    assert findings(evidence(raw)) == [f"{T}: passed in the JUnit report but never ran"]


def test_a_report_that_hides_a_failure_is_tampering():
    results = junit()
    del results[T]
    assert findings(evidence(honest("failed"), results)) == [
        f"{T}: failed on the live channel but absent from the JUnit report"]


def test_a_worse_report_is_not_evidence():
    """A report that is harsher than the channel cannot help a candidate: no finding."""
    assert findings(evidence(honest("passed"), junit(Outcome.FAILED))) == []


def test_exit_zero_is_impossible_with_a_failing_canary():
    assert "pytest exited 0 although a canary test must fail" in findings(evidence(honest(), exit_code=0))


def test_an_exit_code_that_differs_from_pytests_own_status():
    assert "the process exited 5 but pytest's session ended with status 1" in findings(evidence(honest(), exit_code=5))


def test_wrong_or_missing_canaries():
    flipped = honest().replace(json.dumps(report(FAIL, "call", "failed")).encode(),
                               json.dumps(report(FAIL, "call", "passed")).encode())
    assert f"the canary test {CANARY_FAIL} came out passed, not failed" in findings(evidence(flipped))
    cut = b"".join(line + b"\n" for line in honest().splitlines() if b"canary" not in line)
    assert f"the canary test {CANARY_PASS} never ran" in findings(evidence(cut))
    stopped = cut.replace(b'"stopped": false', b'"stopped": true')
    assert findings(evidence(stopped)) == []  # -x / --maxfail ended the session before them
    forged = junit()
    forged[FAIL] = TestResult(FAIL, Outcome.PASSED)
    assert any("JUnit report shows the canary" in f for f in findings(evidence(honest(), forged)))


def test_silence_or_an_unfinished_session_with_results():
    assert any("stayed silent" in f for f in findings(evidence(channel({"k": "boot"}))))
    unfinished = b"".join(line + b"\n" for line in honest().splitlines() if b'"finish"' not in line)
    assert any("never finished" in f for f in findings(evidence(unfinished)))


def test_test_files_changed_before_collection_or_during_the_run():
    assert findings(evidence(honest(), before={"tests/test_a.py": "other"})) == [
        "tests/test_a.py was changed before pytest collected it"]
    changed = evidence(honest(), after={"tests/test_a.py": "h2"})
    assert findings(changed) == ["tests/test_a.py was changed during the run"]


def test_replaced_reporting_counts_only_from_the_candidate_or_from_nowhere():
    """pytest's pieces replaced by a candidate's file, or by compiled text, is tampering; by the
    project's own untouched code or a test file it is not."""
    def with_replacement(file: str) -> Evidence:
        raw = honest(replaced=[{"name": "_pytest.runner:call_and_report", "file": file}])
        return evidence(raw, suspects=frozenset({"calc.py"}))

    assert findings(with_replacement(f"{ROOT}/calc.py")) == [
        "pytest's _pytest.runner:call_and_report was replaced by code from calc.py"]
    assert findings(with_replacement("<string>")) != []
    assert findings(with_replacement(f"{ROOT}/tests/conftest.py")) == []
    assert findings(with_replacement(f"{ROOT}/lib/own_plugin.py")) == []
    hooked = honest(hooks=[{"hook": "pytest_runtest_makereport", "file": f"{ROOT}/calc.py"}])
    assert findings(evidence(hooked, suspects=frozenset({"calc.py"}))) == [
        "a pytest_runtest_makereport hook was installed from calc.py"]


def test_entry_point_plugins_from_inside_the_workspace():
    raw = honest().replace(b'"entry_points": []', f'"entry_points": ["{ROOT}/cheat.py"]'.encode())
    assert any("package metadata inside the workspace" in f for f in findings(evidence(raw)))


# --- the configuration pytest would read --------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_config_search_follows_pytests_order_and_sections(tmp_path):
    ws = _tree(tmp_path / "ws", {
        "tests/test_a.py": "", "setup.cfg": "[tool:pytest]\naddopts = -q\n", "tox.ini": "[tox]\n",
        "pyproject.toml": "[project]\nname = 'x'\n",
    })
    assert find_config(ws, ["tests/test_a.py::t"]) == ws / "setup.cfg"  # tox.ini has no [pytest]
    (ws / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-q'\n")
    assert find_config(ws, ["tests/test_a.py"]) == ws / "pyproject.toml"
    (ws / "tests" / "pytest.ini").write_text("")
    assert find_config(ws, ["tests/test_a.py"]) == ws / "tests" / "pytest.ini"  # nearest folder wins


def test_pytest_toml_counts_only_for_pytest_9(tmp_path):
    ws = _tree(tmp_path / "ws", {"tests/test_a.py": "", "pytest.toml": "[pytest]\n", "tox.ini": "[pytest]\n"})
    assert find_config(ws, ["tests/test_a.py"], (9, 0)) == ws / "pytest.toml"
    assert find_config(ws, ["tests/test_a.py"], (8, 3)) == ws / "tox.ini"


def test_nothing_above_the_workspace_counts(tmp_path):
    """A pytest.ini in the workspace's parent is never the answer; a bare pyproject.toml is the fallback."""
    _tree(tmp_path, {"pytest.ini": "[pytest]\naddopts = -p cheat\n"})
    ws = _tree(tmp_path / "ws", {"tests/test_a.py": ""})
    assert find_config(ws, ["tests/test_a.py"]) is None
    (ws / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config(ws, ["tests/test_a.py"]) == ws / "pyproject.toml"


def test_read_only_set_is_the_run_and_what_shapes_it(tmp_path):
    ws = _tree(tmp_path / "ws", {
        "tests/test_a.py": "", "tests/helpers.py": "", "tests/data.json": "", "tests/conftest.py": "",
        "tests/unit/test_b.py": "", "conftest.py": "", "src/pkg/__init__.py": "", "setup.cfg": "",
    })
    chosen = read_only_files(ws, ["tests/test_a.py"], ws / "setup.cfg", ["tests/data.json"])
    assert set(chosen) == {"tests/test_a.py", "tests/helpers.py", "tests/conftest.py", "conftest.py",
                           "setup.cfg", "tests/data.json"}


def test_the_plugin_and_the_parser_name_the_canaries_alike():
    """The plugin (stdlib + pytest only, it cannot import taskset) repeats the canary names: they must match."""
    import ast

    import taskset.evaluation.runner

    source = (taskset.evaluation.runner.PLUGIN_DIR / "loopctl_pytest_plugin.py").read_text()
    names = {node.targets[0].id: node.value.value for node in ast.parse(source).body
             if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
             and isinstance(node.targets[0], ast.Name)}
    assert (names["CANARY_PASS"], names["CANARY_FAIL"]) == (CANARY_PASS, CANARY_FAIL)


def test_code_from_outside_the_workspace_and_the_environment_is_foreign():
    """A hook or a test function whose code lives in a temp folder (written at run time) is foreign;
    the environment's and the standard library's code is not; a test wrapped by a decorator from
    the environment is fine, one whose code comes from the candidate's file is not."""
    raw = honest(hooks=[{"hook": "pytest_runtest_makereport", "file": "/tmp/run/tmp/helpers.py"},
                        {"hook": "pytest_runtest_makereport", "file": "/env/lib/site-packages/plug.py"},
                        {"hook": "pytest_configure", "file": f"{ROOT}/src/plugin.py", "entry_point": True}],
                 origins=[{"nodeid": T, "file": "/usr/lib/python3.11/unittest/mock.py"}])
    found = findings(evidence(raw, trusted=("/env", "/usr/lib/python3.11"), suspects=frozenset({"src/plugin.py"})))
    assert found == ["a pytest_runtest_makereport hook was installed from /tmp/run/tmp/helpers.py"]
    swapped = honest(origins=[{"nodeid": T, "file": f"{ROOT}/calc.py"}])
    assert findings(evidence(swapped, suspects=frozenset({"calc.py"}))) == [
        f"{T}: its function's code comes from calc.py"]
    forged = honest(replaced=[{"name": "_pytest.runner:call_and_report", "file": "/env/_pytest/runner.py",
                               "forged": True}])
    assert any("lies about its origin" in f for f in findings(evidence(forged, trusted=("/env",))))
