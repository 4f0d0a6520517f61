"""The calibration rules, applied to observations written out by hand (judge() is pure).

The real reruns are exercised in test_calibrate.py; here each rule gets its own small case.
"""

from __future__ import annotations

import pytest

from calibrate import Observation, Side, Variant, judge, pending, plan
from factories import make_task
from taskset import Calibration, CalibrationStatus, Difficulty, FailKind, FailMode, TaskMeta, VerdictProblem
from taskset.store import TaskSet

BUGGY, GOLD = Side.BUGGY, Side.GOLD
REPEAT, ALONE, REVERSED, AGAIN = Variant.REPEAT, Variant.ALONE, Variant.REVERSED, Variant.AGAIN

F2P = "tests/test_x.py::test_a[1-2]"
P2P = "tests/test_x.py::test_b"


def seen(side, variant=REPEAT, problem=None, seconds=1.0, **passed) -> Observation:
    ids = {"f2p": F2P, "p2p": P2P}
    outcomes = {ids[k]: v for k, v in passed.items()}
    return Observation(side, variant, outcomes, {t: 0.1 for t in outcomes}, seconds, problem)


def stable(runs=3):
    return [o for _ in range(runs) for o in (seen(BUGGY, f2p=False, p2p=True), seen(GOLD, f2p=True, p2p=True))]


def test_plan_runs_repeats_then_alone_then_reversed():
    """Reruns vary what hides flakiness: each FAIL_TO_PASS test alone, and the whole set reversed."""
    steps = plan(make_task(), runs=2)
    assert [(s, v) for s, v, _ in steps[:4]] == [(BUGGY, REPEAT), (GOLD, REPEAT)] * 2
    assert (GOLD, ALONE, (F2P,)) in steps
    assert (GOLD, REVERSED, (P2P, F2P)) in steps


def test_plan_skips_buggy_alone_run_of_a_collection_failure():
    """A FAIL_TO_PASS test that failed at collection on the buggy code fails in any order: no buggy alone run."""
    task = make_task(meta=TaskMeta(fail_modes={F2P: FailMode(FailKind.COLLECTION, "ImportError")}))
    alone = [(side, tests) for side, variant, tests in plan(task, runs=1) if variant == ALONE]
    assert alone == [(GOLD, (F2P,))]


def test_plan_of_a_single_test_skips_alone_and_reversed():
    """One test alone, or reversed, is the same run as a repeat: only the same-workspace rerun is added."""
    steps = plan(make_task(PASS_TO_PASS=()), runs=3)
    assert [v for _, v, _ in steps] == [REPEAT] * 6 + [AGAIN]


def test_stable_task_is_ok_with_timings():
    """Tests that agree in every run make the task ok; medians become the task's timings."""
    observations = stable()
    observations[1] = seen(GOLD, f2p=True, p2p=True, seconds=5.0)
    task = judge(make_task(), observations, runs=3)
    c = task.calibration
    assert (c.status, c.reason, c.runs, c.flaky_tests) == (CalibrationStatus.OK, "", 3, ())
    assert c.gold_seconds == 1.0 and c.buggy_seconds == 1.0
    assert c.durations == {F2P: 0.1, P2P: 0.1}
    assert c.flake_rates == {F2P: 0.0, P2P: 0.0}
    assert c.calibrated_at and c.loopctl_version


def test_fail_to_pass_passing_on_buggy_code_is_bad_test():
    """A FAIL_TO_PASS test that passes on the buggy code in every run cannot tell a fix from no fix."""
    observations = [o if o.side == GOLD else seen(BUGGY, f2p=True, p2p=True) for o in stable()]
    c = judge(make_task(), observations, runs=3).calibration
    assert c.status == CalibrationStatus.BAD_TEST
    assert F2P in c.reason and "buggy" in c.reason


def test_gold_patch_failing_is_broken():
    """A FAIL_TO_PASS test that never passes with the gold patch makes the task broken."""
    observations = [o if o.side == BUGGY else seen(GOLD, f2p=False, p2p=True) for o in stable()]
    c = judge(make_task(), observations, runs=3).calibration
    assert c.status == CalibrationStatus.BROKEN and "gold patch" in c.reason


def test_gold_patch_that_does_not_apply_is_broken():
    """A gold patch that no longer applies is broken, whatever the tests did."""
    observations = stable()
    observations[1] = seen(GOLD, problem=VerdictProblem.PATCH_DOES_NOT_APPLY, f2p=False, p2p=False)
    assert judge(make_task(), observations, runs=3).calibration.status == CalibrationStatus.BROKEN


def test_env_failure_during_a_run_is_env_failed():
    """An environment that fails in a run makes the task env-failed, not broken."""
    observations = stable()
    observations[0] = seen(BUGGY, problem=VerdictProblem.ENV_FAILED, f2p=False, p2p=False)
    assert judge(make_task(), observations, runs=3).calibration.status == CalibrationStatus.ENV_FAILED


def test_fail_to_pass_flipping_between_repeats_is_flaky():
    """A FAIL_TO_PASS test that flips between identical runs makes the task flaky, with its rate."""
    observations = stable()
    observations[3] = seen(GOLD, f2p=False, p2p=True)
    c = judge(make_task(), observations, runs=3).calibration
    assert c.status == CalibrationStatus.FLAKY
    assert "passed 2 of 3 identical runs" in c.reason
    assert c.flaky_tests == (F2P,) and c.flake_rates[F2P] == pytest.approx(1 / 6, abs=1e-3)


def test_outcome_changed_only_by_order_is_named_order_dependent():
    """When the repeats agree and only running alone or reversed changes the outcome, the reason says order."""
    observations = stable() + [seen(BUGGY, ALONE, f2p=False), seen(GOLD, ALONE, f2p=False)]
    c = judge(make_task(), observations, runs=3).calibration
    assert c.status == CalibrationStatus.FLAKY
    assert "order-dependent" in c.reason and "alone" in c.reason


def test_test_failing_when_rerun_in_the_same_workspace_leaves_state_behind():
    """A test that passes in fresh workspaces but fails on a second run in one workspace is flaky."""
    observations = stable() + [seen(GOLD, AGAIN, f2p=False, p2p=True)]
    c = judge(make_task(), observations, runs=3).calibration
    assert c.status == CalibrationStatus.FLAKY and "leaves state behind" in c.reason


def test_flaky_pass_to_pass_is_removed_and_task_stays_ok():
    """A PASS_TO_PASS test that flips leaves PASS_TO_PASS, is listed as flaky, and the task stays usable."""
    observations = stable()
    observations[2] = seen(BUGGY, f2p=False, p2p=False)
    task = judge(make_task(), observations, runs=3)
    assert task.PASS_TO_PASS == ()
    assert task.calibration.status == CalibrationStatus.OK
    assert task.calibration.flaky_tests == (P2P,) and P2P in task.calibration.reason


def test_pass_to_pass_failing_with_gold_every_time_is_broken():
    """A PASS_TO_PASS test that never passes with the gold patch means no candidate can resolve: broken."""
    observations = [o if o.side == BUGGY else seen(GOLD, f2p=True, p2p=False) for o in stable()]
    assert judge(make_task(), observations, runs=3).calibration.status == CalibrationStatus.BROKEN


def test_recalibration_keeps_measured_difficulty():
    """Reruns judge trust, not difficulty: a label measured by the tiers survives a --force rerun."""
    task = make_task(calibration=Calibration(difficulty=Difficulty.HARD, tier_passes={"local": (0, 2)}))
    c = judge(task, stable(), runs=3).calibration
    assert c.difficulty == Difficulty.HARD and c.tier_passes == {"local": (0, 2)}


def test_pending_skips_calibrated_tasks_unless_forced(tmp_path):
    """A rerun continues with the tasks not yet calibrated; force redoes the selected ones."""
    tasks = TaskSet(tmp_path)
    tasks.add(make_task(instance_id="a__b-1", calibration=Calibration()))
    tasks.add(make_task(instance_id="a__b-2"))  # factory default: status ok
    assert [t.instance_id for t in pending(tasks)] == ["a__b-1"]
    assert [t.instance_id for t in pending(tasks, force=True)] == ["a__b-1", "a__b-2"]
    assert [t.instance_id for t in pending(tasks, ids=["a__b-2"], force=True)] == ["a__b-2"]
