"""Difficulty: how far up the tier ladder a task needs to go, measured by running the tiers on it.

Never guessed from patch size. Each tier attempts the task ``samples`` times, every sample from a
clean start (``harness.run_tier``), tiers in the order given. The rule:

- ``trivial``: the first tier resolves it in at least one of its samples;
- ``medium``: the first tier never does, a later tier does at least once;
- ``hard``: no tier does.

"At least once" because the harness's ladder retries: a tier that solves a task one time in K
will, given K tries, usually solve it. The per-tier ``(passes, samples)`` are kept in
``calibration.tier_passes`` so a stricter reader can apply a majority rule instead. Tiers above
the first one that passes are not run: they cannot change the label, and they are the paid ones;
their counts are absent (not zero) from ``tier_passes``.

Only tasks calibration marked ``ok`` are labelled: on a flaky or broken task a tier's failure
says nothing about the tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from calibrate.errors import InvalidSetting
from taskset.record import Difficulty, Task
from taskset.store import TaskSet


def difficulty_from(tier_passes: dict[str, tuple[int, int]], order: Sequence[str]) -> Difficulty:
    """The label that per-tier pass counts give, tiers in ladder ``order``."""
    passing = [name for name in order if tier_passes.get(name, (0, 0))[0] > 0]
    if not passing:
        return Difficulty.HARD
    return Difficulty.TRIVIAL if passing[0] == order[0] else Difficulty.MEDIUM


def label(task: Task, tiers: Sequence, *, samples: int = 1, seed: int = 0) -> Task:
    """Run the tiers on ``task`` (``samples`` clean attempts each) and record its difficulty."""
    from harness import run_tier  # the loop pulls in providers and prompts: load only when labelling

    if samples < 1:
        raise InvalidSetting("samples", samples, "must be at least 1")
    passes: dict[str, tuple[int, int]] = {}
    for tier in tiers:
        wins = sum(bool(run_tier(task, tier, seed + k).resolved) for k in range(samples))
        passes[tier.name] = (wins, samples)
        if wins:
            break
    difficulty = difficulty_from(passes, [tier.name for tier in tiers])
    return replace(task, calibration=replace(task.calibration, difficulty=difficulty, tier_passes=passes))


def needing_labels(
    tasks: TaskSet, tiers: Sequence, *, samples: int = 1, ids: Iterable[str] | None = None, force: bool = False
) -> list[Task]:
    """The ``ok`` tasks to label: unlabelled ones, ones measured with other tiers or samples, all with ``force``."""
    selected = tasks.filter(ids=ids) if ids is not None else tasks
    names = [tier.name for tier in tiers]
    return [
        task
        for task in selected.calibrated()
        if force or task.calibration.difficulty == Difficulty.UNKNOWN or not _measured_with(task, names, samples)
    ]


def _measured_with(task: Task, names: list[str], samples: int) -> bool:
    passes = task.calibration.tier_passes
    # an early stop leaves later tiers out, so the measured tiers are a prefix of the ladder
    measured = names[: len(passes)]
    return list(passes) == measured and all(pair[1] == samples for pair in passes.values())
