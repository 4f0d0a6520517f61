"""benchmarks/verify_fix.py, the hand verification the recall benchmark's records come from."""

from __future__ import annotations

from pathlib import Path

from conftest import load_script

VERIFY_FIX = Path(__file__).resolve().parents[1] / "benchmarks" / "verify_fix.py"


def test_a_pytest_run_cut_by_the_timeout_is_marked_not_taken_as_complete(python_project_env, tmp_path):
    """A run cut by the timeout says so: the tests after the cut have no outcome, so a fix among
    them is missing from f2p, not refuted (a 1,800-test module outlasted a fixed 240 s and its last
    class's FAIL_TO_PASS test was silently left out of a record)."""
    verify = load_script("loopctl_verify_fix", VERIFY_FIX)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "test_cut.py").write_text("import threading\n\ndef test_first():\n    pass\n\n"
                                      "def test_never_ends():\n    threading.Event().wait()\n")
    results = verify.run_pytest(python_project_env.path, tree, ["test_cut.py"], [], timeout=15)
    assert verify.TIMEOUT in results
    assert "test_cut.py::test_never_ends" not in results
    assert not verify.failed(results, "test_cut.py::test_never_ends")  # unknown is not "failed before"
