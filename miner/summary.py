"""The funnel a mining run reports: commits walked, candidates, tasks, rejections by reason, time."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from miner.rejections import Reason


@dataclass
class Summary:
    """Counts over the walked range (tasks and rejections include those recorded by earlier runs)."""

    repo: str
    out: str
    commits_walked: int = 0
    candidates: int = 0
    skipped: int = 0
    """Candidates already recorded by an earlier run: not validated again."""
    deferred: int = 0
    """Candidates left for a later run by ``--max-candidates``."""
    validated: int = 0
    """Candidates validated by this run."""
    tasks: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    validation_seconds: float = 0.0
    """Summed wall time of this run's validations (across jobs)."""
    pytest_seconds: float = 0.0
    """Summed time of the pytest runs inside them."""
    postponed: int = 0
    """Candidates this run did not validate because the machine failed (retried by the next run)."""
    infrastructure: str = ""
    """The machine's failure that stopped the run ("" when none): never recorded as a rejection."""
    repositories: list[Summary] = field(default_factory=list)
    """One funnel per repository when several were mined into one task set (this one is then
    their total: a fix commit two of them share counts once); empty for one repository."""

    def count_range(self, known: Mapping[str, Reason | None], shas: Iterable[str]) -> None:
        """Count tasks and rejections by reason among the walked commits, from the ledger."""
        reasons: Counter[str] = Counter()
        tasks = 0
        for sha in shas:
            if sha not in known:
                continue
            reason = known[sha]
            if reason is None:
                tasks += 1
            else:
                reasons[reason.value] += 1
        self.tasks = tasks
        self.rejections = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))

    @property
    def overhead(self) -> float | None:
        """Validation wall time / pytest time inside it (None before anything ran)."""
        return self.validation_seconds / self.pytest_seconds if self.pytest_seconds else None

    def to_dict(self) -> dict:
        """The summary as a JSON-ready dict (what ``--json`` prints)."""
        data = asdict(self)
        for key in ("wall_seconds", "validation_seconds", "pytest_seconds"):
            data[key] = round(data[key], 3)
        data["rejected"] = sum(self.rejections.values())
        data["overhead_ratio"] = round(self.overhead, 3) if self.overhead else None
        if self.repositories:
            data["repositories"] = [part.to_dict() for part in self.repositories]
        else:
            del data["repositories"]  # one repository: the funnel is the whole answer
        return data

    def to_json(self) -> str:
        """One JSON object."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def text(self) -> str:
        """The funnel as a few aligned lines (several repositories: each one's, then the total)."""
        head = f"mined {self.repo} into {self.out} in {self.wall_seconds:.1f} s"
        if not self.repositories:
            return "\n".join([head, *self._funnel("  ")])
        lines = [head]
        for part in self.repositories:
            lines += [f"  {part.repo}", *part._funnel("    ")]
        return "\n".join([*lines, "  total", *self._funnel("    ")])

    def _funnel(self, indent: str) -> list[str]:
        lines = [
            f"commits walked  {self.commits_walked}",
            f"candidates      {self.candidates}  ({self.skipped} already mined, {self.deferred} left for a later run)",
            f"validated       {self.validated}  "
            f"({self.validation_seconds:.1f} s, of which pytest {self.pytest_seconds:.1f} s)",
            f"tasks           {self.tasks}",
            f"rejections      {sum(self.rejections.values())}",
        ]
        width = max((len(reason) for reason in self.rejections), default=0)
        lines += [f"  {reason:<{width}}  {count}" for reason, count in self.rejections.items()]
        if self.infrastructure:
            lines.append(f"not validated   {self.postponed}  (the machine failed; rerun to validate them)")
        return [indent + line for line in lines]
