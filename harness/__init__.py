"""harness: run models against tasks, escalating tiers only when the tests reject the work.

The seams, on one screen::

    load_tiers(names, config_path=None) -> list[Tier]        tiers from TOML (defaults + overrides)
    make_provider(tier) -> Provider                          Provider.complete(Request) -> Completion
    run_tier(task, tier, seed, *, evaluate=, ...) -> TierOutcome   one tier, clean start, recorded
    run(RunSpec) -> RunResult                                the matrix + live ladders, resumable
    summarize(run_dir) -> dict; write_report(run_dir)        statistics, summary.json, HTML + Markdown

The evaluator (taskset.evaluate) is the sole judge of "done". Outcomes share one vocabulary:
FailureMode is taskset's VerdictProblem extended with what can go wrong before a verdict.
"""

from harness.config import (
    CarryOver,
    ContextSetting,
    EditFormat,
    HarnessConfig,
    ProviderKind,
    Tier,
    TierKind,
    load_config,
    load_tiers,
    price_warnings,
    with_context,
)
from harness.errors import (
    AgentUnavailable,
    Cancelled,
    ConfigError,
    HarnessError,
    ProviderError,
    RunDirError,
    ServerCheckFailed,
)
from harness.loop.edits import Candidate, parse_answer
from harness.loop.tier import TierOutcome
from harness.loop.tier import run_tier as _run_tier
from harness.modes import FailureMode
from harness.names import Strategy, parse_strategies
from harness.providers.completion import Completion, Provider, Request
from harness.providers.factory import make_provider
from harness.records.attempts import AttemptRecord, RunLog, read_attempts
from harness.report.render import write_report
from harness.results.summary import summarize, write_summary
from harness.run import RunResult, RunSpec, agent_runner, run


def run_tier(task, tier: Tier, seed: int = 0, **options) -> TierOutcome:
    """One tier's attempts on one task from a clean start (calibration's entry point), agent tiers included.

    The options are ``harness.loop.tier.run_tier``'s; an agent tier's attempts run through harness.agent.
    """
    return _run_tier(task, tier, seed, **{"agent": agent_runner([tier]), **options})


__all__ = [
    "AgentUnavailable",
    "AttemptRecord",
    "Cancelled",
    "Candidate",
    "CarryOver",
    "Completion",
    "ConfigError",
    "ContextSetting",
    "EditFormat",
    "FailureMode",
    "HarnessConfig",
    "HarnessError",
    "Provider",
    "ProviderError",
    "ProviderKind",
    "Request",
    "RunDirError",
    "RunLog",
    "RunResult",
    "RunSpec",
    "ServerCheckFailed",
    "Strategy",
    "Tier",
    "TierKind",
    "TierOutcome",
    "load_config",
    "load_tiers",
    "make_provider",
    "parse_answer",
    "parse_strategies",
    "price_warnings",
    "read_attempts",
    "run",
    "run_tier",
    "summarize",
    "with_context",
    "write_report",
    "write_summary",
]
