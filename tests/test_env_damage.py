"""A damaged environment is never a verdict: it is rebuilt and the candidate judged again, or the
evaluation raises InfrastructureError. Real environments, damaged on disk between evaluations."""

from __future__ import annotations

import pytest

from taskset.env.environment import environment_for
from taskset.errors import InfrastructureError
from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.workspace.workspace import Workspace
from test_harness_server import build_tiny_task


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A cache of this test's own: the environment it damages is shared with no other test."""
    monkeypatch.setenv("LOOPCTL_CACHE", str(tmp_path / "cache"))


def test_a_module_deleted_from_the_environment_is_rebuilt_not_judged(make_repo, private_cache):
    """pytest's own module deleted between two evaluations (pytest then writes no report): the gold
    patch is not ``tests-failed`` but resolved in the rebuilt environment; the same damage under an
    environment the caller passed is an InfrastructureError."""
    task = build_tiny_task(make_repo("tiny"))
    assert evaluate(task, patch=task.patch).resolved
    with Workspace.for_task(task) as ws:
        env = environment_for(task, ws.path)
    [pastebin] = env.path.glob("lib/python*/site-packages/_pytest/pastebin.py")
    pastebin.unlink()
    again = evaluate(task, patch=task.patch)
    assert again.resolved and again.problem is VerdictProblem.RESOLVED, again.message
    assert pastebin.is_file(), "the environment was rebuilt"
    empty = evaluate(task, patch="")
    assert empty.problem is VerdictProblem.TESTS_FAILED, "an intact environment still judges a non-fix"
    # a run that wrote its report: the files alone are checked, and a stray one (below the top
    # level, where the check before use looks only when the folders' stamps changed) is still seen
    stray = pastebin.parent / "zz_stray.py"
    stray.write_text("\n")
    again_empty = evaluate(task, patch="")
    assert again_empty.problem is VerdictProblem.TESTS_FAILED and not stray.exists(), "judged in the rebuilt env"
    pastebin.unlink()
    with pytest.raises(InfrastructureError, match="damaged"):
        evaluate(task, patch=task.patch, env=env)
