"""The library on its own: a task built by hand from the sample's first fix, judged by taskset.evaluate."""

from __future__ import annotations

import subprocess

import pytest

import taskset

pytestmark = pytest.mark.slow  # builds the sample's environment from the package index


def git(repo, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def first_fix(sample_repo, sample_module, sample_commits) -> taskset.Task:
    """The sample's first genuine fix as a Task, built with plain git and no miner."""
    fix = sample_module.GENUINE[0]
    sha = sample_commits[fix["subject"]]
    parent = git(sample_repo, "rev-parse", f"{sha}^").strip()
    return taskset.Task(
        instance_id=f"local__calclib-{sha[:12]}",
        repo="local/calclib",
        repo_url=str(sample_repo),
        base_commit=parent,
        fix_commit=sha,
        created_at=git(sample_repo, "show", "-s", "--format=%cI", sha).strip(),
        patch=git(sample_repo, "diff", parent, sha, "--", "src"),
        test_patch=git(sample_repo, "diff", parent, sha, "--", "tests"),
        problem_statement=fix["subject"],
        FAIL_TO_PASS=tuple(fix["fail_to_pass"]),
        PASS_TO_PASS=tuple(fix["pass_to_pass"]),
        environment=taskset.EnvironmentSpec(pythonpath=("src", ".")),
    )


def test_gold_patch_resolves_the_first_fix(first_fix):
    """With the gold patch every FAIL_TO_PASS and PASS_TO_PASS test passes: resolved."""
    verdict = taskset.evaluate(first_fix, patch=first_fix.patch)
    assert verdict.resolved, verdict.feedback
    assert verdict.problem is taskset.VerdictProblem.RESOLVED
    assert set(verdict.fail_to_pass) == set(first_fix.FAIL_TO_PASS)


def test_empty_patch_does_not_resolve_the_first_fix(first_fix):
    """On the buggy code the FAIL_TO_PASS tests fail, and the feedback names them."""
    verdict = taskset.evaluate(first_fix, patch="")
    assert not verdict.resolved
    assert verdict.problem is taskset.VerdictProblem.TESTS_FAILED
    assert all(o is not taskset.Outcome.PASSED for o in verdict.fail_to_pass.values())
    assert first_fix.FAIL_TO_PASS[0].split("::")[-1] in verdict.feedback
