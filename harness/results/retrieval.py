"""Retrieval recall per context setting, from what each attempt recorded about its prompt.

An attempt's recall is the share of the gold patch's files its prompt showed (after trimming to
the window). ``oracle`` shows them by construction, unless the window trimmed one away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harness.config import Tier
from harness.records.attempts import AttemptRecord


def context_of(tiers: Sequence[Tier]) -> str:
    """The run's context setting in one phrase: ``bm25``, or ``local bm25, o3 oracle`` when tiers differ."""
    settings = {t.context.value for t in tiers}
    if len(settings) == 1:
        return settings.pop()
    return ", ".join(f"{t.name} {t.context.value}" for t in tiers)


def recall_table(records: Iterable[AttemptRecord]) -> dict[str, dict[str, Any]]:
    """Setting -> attempts, mean recall, recall on single-file fixes, and the share that showed every gold file."""
    by: dict[str, list[AttemptRecord]] = {}
    for record in records:
        if record.gold_files and record.prompt_chars:  # an attempt that built no prompt showed nothing
            by.setdefault(record.context.value, []).append(record)
    out = {}
    for setting, rows in sorted(by.items()):
        shares = [len(r.gold_in_prompt) / len(r.gold_files) for r in rows]
        single = [s for s, r in zip(shares, rows, strict=True) if len(r.gold_files) == 1]
        out[setting] = {"attempts": len(rows), "recall": sum(shares) / len(shares),
                        "single_file_attempts": len(single),
                        "single_file_recall": sum(single) / len(single) if single else None,
                        "all_gold_shown": sum(1 for s in shares if s == 1.0) / len(shares)}
    return out
