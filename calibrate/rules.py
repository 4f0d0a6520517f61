"""The calibration rules: which runs calibrate a task, and what their observations make of it.

A mined task is a claim: "these tests fail on the buggy code and pass with the fix". Calibration
checks the claim ``runs`` times in fresh workspaces (every ``evaluate`` call makes its own), and
varies what commonly hides flakiness: each FAIL_TO_PASS test also runs alone, and the whole set
runs in reversed order; and the gold run is repeated a second time in one workspace, which catches
tests that leave state behind (a file written into the tree). The rules, first match wins:

- the environment no longer builds                          -> ``env-failed``
- the test patch or gold patch no longer applies, or a test never passes with the gold patch
                                                             -> ``broken``
- a FAIL_TO_PASS test passes on the buggy code in every run  -> ``bad-test``
- a FAIL_TO_PASS test's outcome differs between runs of the same code (repeats, alone,
  reversed, again)                                           -> ``flaky`` (the reason names order
  dependence or left-behind state when the repeats agree and only the variation changed it)
- otherwise ``ok``; a PASS_TO_PASS test that flipped is removed from PASS_TO_PASS and listed in
  ``calibration.flaky_tests``: the task stays usable.

Everything here is pure: :func:`plan` says what to run, :func:`judge` applies the rules to what
``calibrate.observe`` saw, so the rules are readable in one place.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata

from taskset import VerdictProblem
from taskset.record import Calibration, CalibrationStatus, FailKind, Task


class Side(str, enum.Enum):
    """Which code a run judges."""

    BUGGY = "buggy"
    """The task's base commit, no patch."""
    GOLD = "gold"
    """The task's own fix applied."""


class Variant(str, enum.Enum):
    """How a run varies the recorded test run."""

    REPEAT = "repeat"
    """Every test, in the recorded order, in a fresh workspace."""
    ALONE = "alone"
    """One FAIL_TO_PASS test on its own."""
    REVERSED = "reversed"
    """Every test in reversed order."""
    AGAIN = "again"
    """The second run of every test in a workspace that already ran them once."""


_VARIANT_WORDS = {Variant.ALONE: "alone", Variant.REVERSED: "in reversed order"}

Step = tuple[Side, Variant, tuple[str, ...]]
"""One run of the plan: (side, variant, the test ids to run, in order)."""


@dataclass(frozen=True)
class Observation:
    """One run during calibration: which code, which variant, what each test did."""

    side: Side
    variant: Variant
    passed: dict[str, bool]
    """Per requested test id: did it pass? Skipped, missing and errored tests did not."""
    durations: dict[str, float]
    seconds: float
    problem: VerdictProblem | None = None
    """What the evaluator found (``resolved``, ``tests-failed``, ``patch-does-not-apply``, ...);
    None for the same-workspace rerun when its tests ran and decided."""
    detail: str = ""


def plan(task: Task, runs: int) -> list[Step]:
    """The (side, variant, tests) runs that calibrate ``task``: repeats first, then the variations."""
    everything = task.tests
    steps = [(side, Variant.REPEAT, everything) for _ in range(runs) for side in (Side.BUGGY, Side.GOLD)]
    if len(everything) > 1:
        # a test that failed at collection on the buggy code fails at import in any order: its
        # buggy-side alone run would teach nothing (PyJWT: most FAIL_TO_PASS tests are such)
        collection = {t for t, mode in task.meta.fail_modes.items() if mode.kind == FailKind.COLLECTION}
        steps += [
            (side, Variant.ALONE, (test,))
            for test in task.FAIL_TO_PASS
            for side in (Side.BUGGY, Side.GOLD)
            if side == Side.GOLD or test not in collection
        ]
        steps += [(side, Variant.REVERSED, tuple(reversed(everything))) for side in (Side.BUGGY, Side.GOLD)]
    steps.append((Side.GOLD, Variant.AGAIN, everything))
    return steps


def judge(task: Task, observations: list[Observation], runs: int) -> Task:
    """Apply the calibration rules to the observations; returns the task with its new calibration."""
    status, reason = _status(task, observations)
    flaky_p2p = tuple(t for t in task.PASS_TO_PASS if _flipped(t, observations))
    kept = tuple(t for t in task.PASS_TO_PASS if t not in flaky_p2p)
    if status == CalibrationStatus.OK and flaky_p2p:
        reason = "removed flaky PASS_TO_PASS: " + "; ".join(_describe_flip(t, observations) for t in flaky_p2p)
    flaky_f2p = tuple(t for t in task.FAIL_TO_PASS if _flipped(t, observations))
    calibration = replace(
        stamp(Calibration(status=status, reason=reason, runs=runs)),
        flaky_tests=flaky_f2p + flaky_p2p,
        flake_rates={test: _flake_rate(test, observations) for test in task.tests},
        durations=_test_durations(task, observations),
        buggy_seconds=_median(o.seconds for o in _repeats(observations, Side.BUGGY)),
        gold_seconds=_median(o.seconds for o in _repeats(observations, Side.GOLD)),
        # difficulty comes from the tiers, not from reruns: keep what an earlier labelling found
        difficulty=task.calibration.difficulty,
        tier_passes=task.calibration.tier_passes,
    )
    return replace(task, PASS_TO_PASS=kept, calibration=calibration)


def _status(task: Task, observations: list[Observation]) -> tuple[CalibrationStatus, str]:
    env_failed = [o for o in observations if o.problem == VerdictProblem.ENV_FAILED]
    if env_failed:
        return CalibrationStatus.ENV_FAILED, f"environment failed during a run: {env_failed[0].detail}".strip()
    unapplied = [o for o in observations if o.side == Side.GOLD and o.problem == VerdictProblem.PATCH_DOES_NOT_APPLY]
    if unapplied:
        return CalibrationStatus.BROKEN, f"the gold patch does not apply: {unapplied[0].detail}".strip()
    for test in task.tests:
        gold = _outcomes(test, observations, Side.GOLD)
        if gold and not any(gold):
            return CalibrationStatus.BROKEN, f"{test} fails with the gold patch in all {len(gold)} runs"
    for test in task.FAIL_TO_PASS:
        buggy = _outcomes(test, observations, Side.BUGGY)
        if buggy and all(buggy):
            return CalibrationStatus.BAD_TEST, f"FAIL_TO_PASS {test} passes on the buggy code in all {len(buggy)} runs"
    flaky = [test for test in task.FAIL_TO_PASS if _flipped(test, observations)]
    if flaky:
        return CalibrationStatus.FLAKY, "; ".join(_describe_flip(test, observations) for test in flaky)
    return CalibrationStatus.OK, ""


def _outcomes(test: str, observations: list[Observation], side: Side, variant: Variant | None = None) -> list[bool]:
    return [
        o.passed[test]
        for o in observations
        if o.side == side and test in o.passed and (variant is None or o.variant == variant)
    ]


def _flipped(test: str, observations: list[Observation]) -> bool:
    """A test flipped when the same code (buggy, or gold) gave it both outcomes."""
    for side in (Side.BUGGY, Side.GOLD):
        seen = set(_outcomes(test, observations, side))
        if len(seen) > 1:
            return True
    return False


def _describe_flip(test: str, observations: list[Observation]) -> str:
    """How a test flipped: between identical repeats, or only when alone, reversed or rerun in place."""
    for side in (Side.BUGGY, Side.GOLD):
        repeats = _outcomes(test, observations, side, Variant.REPEAT)
        if len(set(repeats)) > 1:
            passed = f"passed {sum(repeats)} of {len(repeats)} identical runs"
            return f"{test} is flaky: on the {side.value} code it {passed}"
        if not repeats:
            continue
        usual = "passes" if repeats[0] else "fails"
        other = "fails" if repeats[0] else "passes"
        for variant, words in _VARIANT_WORDS.items():
            varied = _outcomes(test, observations, side, variant)
            if varied and set(varied) != set(repeats):
                return (f"{test} is order-dependent: on the {side.value} code it {usual} in the recorded order "
                        f"but {other} {words}")
        if set(_outcomes(test, observations, side, Variant.AGAIN)) - set(repeats):
            return (f"{test} leaves state behind: on the {side.value} code it {usual} in a fresh workspace "
                    f"but {other} when run again in the same one")
    return f"{test} is flaky"


def _flake_rate(test: str, observations: list[Observation]) -> float:
    """The share of a test's runs that disagreed with that test's usual outcome on the same code."""
    minority = total = 0
    for side in (Side.BUGGY, Side.GOLD):
        outcomes = _outcomes(test, observations, side)
        minority += min(sum(outcomes), len(outcomes) - sum(outcomes))
        total += len(outcomes)
    return round(minority / total, 4) if total else 0.0


def _test_durations(task: Task, observations: list[Observation]) -> dict[str, float]:
    gold = _repeats(observations, Side.GOLD)
    return {
        test: _median(o.durations[test] for o in gold if test in o.durations)
        for test in task.tests
        if any(test in o.durations for o in gold)
    }


def _repeats(observations: list[Observation], side: Side) -> list[Observation]:
    return [o for o in observations if o.side == side and o.variant == Variant.REPEAT]


def _median(values: Iterable[float]) -> float:
    values = list(values)
    return round(statistics.median(values), 4) if values else 0.0


def stamp(calibration: Calibration) -> Calibration:
    """Date and loopctl version, so a reader knows which calibration produced the block."""
    try:
        version = metadata.version("loopctl")
    except metadata.PackageNotFoundError:
        version = "unknown"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return replace(calibration, calibrated_at=now, loopctl_version=version)


