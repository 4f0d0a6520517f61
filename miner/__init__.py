"""miner: turn a repository's history into tasks proven by their own tests.

Walk (git's listing) -> candidates (source + tests changed) -> validation (buggy run, gold runs)
-> ``Task`` in the task set, or ``Rejection`` with a reason in ``rejections.jsonl``.
"""

from miner.candidates import Candidate, Commit, classify, list_commits
from miner.errors import BadRevision, GitCommandError, MinerError, NoTestsError
from miner.judge import Judgement, judge
from miner.ledger import Ledger, read_rejections
from miner.rejections import Reason, Rejection
from miner.run import MineConfig, conventions, mine
from miner.source import Source, open_source
from miner.summary import Summary
from miner.validate import Repo, ValidateConfig, instance_id, validate

__all__ = [
    "BadRevision",
    "Candidate",
    "Commit",
    "GitCommandError",
    "Judgement",
    "Ledger",
    "MineConfig",
    "MinerError",
    "NoTestsError",
    "Reason",
    "Rejection",
    "Repo",
    "Source",
    "Summary",
    "ValidateConfig",
    "classify",
    "conventions",
    "instance_id",
    "judge",
    "list_commits",
    "mine",
    "open_source",
    "read_rejections",
    "validate",
]
