"""Pure pieces of the harness: config, vocabulary, the answer parser, strategies from the matrix, statistics."""

from __future__ import annotations

import pytest

import harness
from harness.config import EditFormat, Tier, load_config, load_tiers, price_warnings
from harness.errors import ConfigError, HarnessError
from harness.loop.edits import parse_answer
from harness.loop.prehoc import heuristic_start
from harness.modes import INFRASTRUCTURE, FailureMode, classify_error, from_verdict
from harness.names import Strategy, parse_strategies
from harness.records.attempts import AttemptRecord
from harness.results.stats import bootstrap_ci, paired_ci
from harness.results.strategies import Matrix
from taskset.evaluation.verdict import VerdictProblem

SRC = {"calc.py": "def add(a, b):\n    return a - b\n"}


def test_all_is_sorted_and_complete():
    """harness.__all__ is literal, sorted, and names only things that exist."""
    assert harness.__all__ == sorted(harness.__all__)
    assert all(hasattr(harness, name) for name in harness.__all__)


def test_default_ladder_matches_the_spec():
    """local is free and 1 attempt; o3 has 2 attempts with feedback; gpt-5.5 has 1."""
    local, o3, top = load_tiers(["local", "o3", "gpt-5.5"])
    assert (local.attempts, local.paid, local.base_url) == (1, False, "http://localhost:11434/v1")
    assert (o3.attempts, o3.feedback, o3.paid) == (2, True, True)
    assert top.attempts == 1


def test_unpriced_tier_warns_and_is_unknown_never_zero(tmp_path):
    """A tier without prices yields a warning and a cost of None (unknown), not 0."""
    [top] = load_tiers(["gpt-5.5"])
    assert price_warnings([top]) and not top.priced and top.paid
    record = AttemptRecord(task="t", strategy=Strategy.MATRIX, seed=1, tier="gpt-5.5", attempt=1, prompt_tokens=10,
                           failure_mode=FailureMode.RESOLVED)
    from harness.records.pricing import attempt_cost
    assert attempt_cost(record, {"gpt-5.5": top}) is None


def test_user_config_merges_key_by_key_and_adds_rungs(tmp_path):
    """An override changes one key and leaves the rest; any number of new tiers can be chained."""
    path = tmp_path / "loopctl.toml"
    rungs = "".join(f'[tiers.r{i}]\nmodel = "m{i}"\nbase_url = "http://h/v1"\n' for i in range(6))
    path.write_text('[tiers.o3]\nprice_output = 9.0\n' + rungs)
    config = load_config(cwd=tmp_path)
    assert config.tiers["o3"].price_output == 9.0 and config.tiers["o3"].price_input == 2.0
    assert [t.name for t in config.select([f"r{i}" for i in range(6)])] == [f"r{i}" for i in range(6)]


@pytest.mark.parametrize("text,problem", [
    ('[tiers.x]\nmodel = "m"\n', "needs model and base_url"),
    ('[tiers.o3]\nattempts = "two"\n', "expected int"),
    ('[tiers.o3]\nbogus = 1\n', "unknown key"),
    ('[harness]\ncarry_over = "some"\n', "expected none"),
    ('[tiers.local]\nkind = "agent"\ncontext_window = 32768\nserver_context_window = 32768\n', "leave headroom"),
    ('[tiers.local]\ncontext_window = 40000\nserver_context_window = 32768\n', "must be below"),
    ('[tiers.local]\ncompact_at = 1.5\n', "at most 1"),
    ('[tiers.local]\nkind = "robot"\n', "expected edit, agent"),
    ('[tiers.o3]\nattempts = true\n', "expected int, got bool"),
    ('[tiers.o3]\nstream = 1\n', "expected bool, got int"),
    ('[tiers.o3]\nmodel = 3\n', "expected str, got int"),
    ('[tiers.o3]\ntemperature = -0.5\n', "non-negative number"),
    ('[tiers.o3]\nagent_max_cost = false\n', "non-negative number"),
    ('[tiers.o3]\ncontext = "psychic"\n', "expected oracle, traceback, bm25"),
])
def test_bad_config_names_the_key(tmp_path, text, problem):
    """A malformed tiers file is a ConfigError naming file, key and problem."""
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_config(path)


def test_name_colon_agent_selects_the_tier_as_an_agent_tier_under_its_own_name():
    """`--tiers local:agent,o3`: local's settings as an agent tier named local:agent; o3 stays an edit tier;
    the agent settings are part of what makes a run directory's ladder the same."""
    from harness.config import TierKind

    agent, o3 = load_config().select(["local:agent", "o3"])
    assert (agent.name, agent.kind, agent.model) == ("local:agent", TierKind.AGENT, "qwen2.5-coder:7b")
    assert o3.kind is TierKind.EDIT
    assert agent.fingerprint() != load_config().select(["local"])[0].fingerprint()
    with pytest.raises(ConfigError, match="unknown kind"):
        load_config().select(["local:robot"])


def test_unknown_tier_lists_known_ones():
    """Asking for a tier the config lacks names the known tiers."""
    with pytest.raises(ConfigError, match="known: .*oracle"):
        load_tiers(["nope"])


@pytest.mark.parametrize("text,fmt,mode", [
    ("", EditFormat.FILES, "empty-response"),
    ("   \n", EditFormat.DIFF, "empty-response"),
    ("I would change add.", EditFormat.SEARCH_REPLACE, "format-violation"),
    ("not json", EditFormat.FILES, "format-violation"),
    ('{"files": {"calc.py": "def add(a, b):\\n    return a - b\\n"}}', EditFormat.FILES, "empty-edits"),
    ("--- a/calc.py\n+++ b/calc.py\n", EditFormat.DIFF, "empty-edits"),
    ("calc.py\n<<<<<<< SEARCH\nreturn a * b\n=======\nreturn 0\n>>>>>>> REPLACE\n", EditFormat.SEARCH_REPLACE,
     "patch-does-not-apply"),
])
def test_unusable_answers_are_classified(text, fmt, mode):
    """What the parser cannot use gets a failure mode from the fixed vocabulary, never an exception."""
    assert parse_answer(text, fmt, SRC).failure.value == mode


def test_json_answer_is_accepted_fenced_and_with_chatter():
    """A files dict inside a ```json fence with prose around it is accepted."""
    text = 'Sure!\n```json\n{"files": {"calc.py": "def add(a, b):\\n    return a + b\\n"}}\n```\nDone.'
    assert parse_answer(text, EditFormat.FILES, SRC).edits == {"calc.py": "def add(a, b):\n    return a + b\n"}


def test_bare_diff_is_accepted():
    """An unfenced unified diff after some prose is extracted from its first header."""
    text = ("Patch:\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n"
            " def add(a, b):\n-    return a - b\n+    return a + b")
    candidate = parse_answer(text, EditFormat.DIFF, SRC)
    assert candidate.patch.startswith("diff --git a/calc.py b/calc.py\n--- a/calc.py")
    assert candidate.patch.endswith("+    return a + b\n")


def test_search_block_tolerates_trailing_whitespace_and_a_missing_second_path():
    """SEARCH text matches ignoring trailing spaces; a second block without a path edits the same file."""
    text = ("calc.py\n<<<<<<< SEARCH\ndef add(a, b):   \n=======\ndef add(a, b=0):\n>>>>>>> REPLACE\n\n"
            "<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n")
    assert parse_answer(text, EditFormat.SEARCH_REPLACE, SRC).edits["calc.py"] == "def add(a, b=0):\n    return a + b\n"


def test_error_text_classification_first_match_wins():
    """Context-length errors are context-overflow even though they are also API errors."""
    assert classify_error("400 maximum context length is 8192") is FailureMode.CONTEXT_OVERFLOW
    assert classify_error("Read timed out") is FailureMode.TIMEOUT
    assert classify_error("502 bad gateway") is FailureMode.API_ERROR


def rec(task, tier, attempt, resolved, tokens=1000, paid=True):
    return AttemptRecord(task=task, strategy=Strategy.MATRIX, seed=1, tier=tier, attempt=attempt, prompt_tokens=tokens,
                         paid=paid, failure_mode=FailureMode.RESOLVED if resolved else FailureMode.TESTS_FAILED)


TIERS = [Tier(name="local", attempts=1, price_input=0.0, price_output=0.0),
         Tier(name="o3", attempts=2, feedback=True, price_input=2.0, price_output=8.0),
         Tier(name="top", attempts=1, price_input=10.0, price_output=10.0)]
PRICES = {t.name: t for t in TIERS}
RECORDS = [rec("a", "local", 1, True, paid=False), rec("a", "o3", 1, True), rec("a", "top", 1, True),
           rec("b", "local", 1, False, paid=False), rec("b", "o3", 1, False), rec("b", "o3", 2, True),
           rec("b", "top", 1, True)]


def matrix(cap=8, records=RECORDS, scores=None):
    return Matrix(records, TIERS, PRICES, cap, scores=scores)


def test_modeE_climbs_until_the_first_resolution_and_sums_costs():
    """modeE on b: local fails (free), o3 fails then resolves: two o3 attempts paid, top never."""
    result = matrix().result(Strategy.MODE_E, "b", 1)
    assert result.resolved and result.solved_by == "o3" and result.cost == pytest.approx(2 * 1000 * 2.0 / 1e6)
    assert matrix().result(Strategy.MODE_E, "a", 1).cost == 0.0


def test_global_attempt_cap_truncates_the_ladder():
    """With a cap of 2, modeE on b stops after o3's first attempt: unresolved."""
    assert not matrix(cap=2).result(Strategy.MODE_E, "b", 1).resolved


def test_oracle_routing_picks_the_cheapest_solving_tier():
    """The bound pays only for the cheapest tier that solves the task (local for a, o3 for b)."""
    assert matrix().result(Strategy.ORACLE_ROUTING, "a", 1).cost == 0.0
    assert matrix().result(Strategy.ORACLE_ROUTING, "b", 1).solved_by == "o3"


def test_missing_cell_makes_a_strategy_run_incomplete():
    """A tier never run (budget stop) makes the run incomplete rather than a silent failure."""
    result = matrix().result(Strategy.MODE_E, "c", 1)
    assert not result.complete and not result.infra


def test_an_infrastructure_failure_leaves_the_run_incomplete_and_marked_infra():
    """An api-error record is not a failure of the tier: the run is unfinished, marked infra, until a rerun."""
    failed = AttemptRecord(task="c", strategy=Strategy.MATRIX, seed=1, tier="local", attempt=1,
                           failure_mode=FailureMode.API_ERROR)
    result = matrix(records=[*RECORDS, failed]).result(Strategy.MODE_E, "c", 1)
    assert not result.complete and result.infra and not result.attempts
    retried = rec("c", "local", 1, True, paid=False)
    assert matrix(records=[*RECORDS, failed, retried]).result(Strategy.MODE_E, "c", 1).resolved


def test_heuristic_routes_on_the_prehoc_score_not_on_calibration():
    """Low scores start at the bottom rung, middling mid-ladder, high at the top; unknown at the bottom."""
    assert [heuristic_start(s, 3) for s in (None, 0, 9.9, 10, 19.9, 20, 99)] == [0, 0, 0, 1, 1, 2, 2]
    assert matrix(scores={"b": 25.0}).result(Strategy.HEURISTIC, "b", 1).solved_by == "top"


def test_cascade_routes_each_task_by_its_score_against_the_threshold():
    """cascade@t: score <= t -> the first tier alone, else the last tier alone."""
    m = matrix(scores={"a": 3.0, "b": 12.0})
    assert m.result(Strategy.CASCADE, "b", 1, threshold=15).attempts[0].tier == "local"
    assert m.result(Strategy.CASCADE, "b", 1, threshold=10).attempts[0].tier == "top"
    assert not m.result(Strategy.CASCADE, "zzz", 1, threshold=10).complete  # no score: cannot route


def test_local_repair_reuses_the_first_tiers_first_attempt():
    """local-repair's first attempt is local's own record (one request, paid once); the rest are its own."""
    second = AttemptRecord(task="b", strategy=Strategy.MATRIX, seed=1, tier="local+repair", attempt=2,
                           failure_mode=FailureMode.RESOLVED)
    result = matrix(records=[*RECORDS, second]).result(Strategy.LOCAL_REPAIR, "b", 1)
    assert [r.tier for r in result.attempts] == ["local", "local+repair"] and result.resolved


def test_failure_mode_extends_the_verdict_vocabulary():
    """Every VerdictProblem is a FailureMode with the same name and value; the harness adds its own after."""
    first = list(FailureMode)[:len(VerdictProblem)]
    assert [(m.name, m.value) for m in first] == [(p.name, p.value) for p in VerdictProblem]
    for problem in VerdictProblem:
        assert FailureMode[problem.name].value == problem.value
        assert from_verdict(problem) is FailureMode(problem.value)
    assert FailureMode.TAMPERED not in INFRASTRUCTURE and FailureMode.RUNAWAY.value == "runaway"
    assert INFRASTRUCTURE == {FailureMode.API_ERROR, FailureMode.TIMEOUT, FailureMode.ENV_FAILED}
    assert len({m.value for m in FailureMode}) == len(FailureMode)


def test_strategy_names_are_validated_with_the_known_ones_listed():
    """An unknown --strategies name is one HarnessError naming the valid ones; matrix is not selectable."""
    assert parse_strategies(["modeE", "cascade", "modeE"]) == (Strategy.MODE_E, Strategy.CASCADE)
    for bad in ("nosuch", "matrix", "oracle-routing"):
        with pytest.raises(HarnessError, match="known: modeE"):
            parse_strategies([bad])


def test_records_round_trip_with_typed_fields():
    """A record's enums survive JSON: strategy, provider, edit format, verdict, failure mode."""
    import json

    record = AttemptRecord(task="t", strategy=Strategy.CARRY, seed=3, tier="o3", attempt=2,
                           edit_format=EditFormat.DIFF, verdict=VerdictProblem.TAMPERED,
                           failure_mode=FailureMode.TAMPERED, trims=("cut",))
    again = AttemptRecord.from_dict(json.loads(record.to_json()))
    assert again == record and again.verdict is VerdictProblem.TAMPERED and again.strategy is Strategy.CARRY


def test_bootstrap_intervals_bracket_the_mean():
    """The percentile interval contains the mean; identical strategies differ by exactly zero."""
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    lo, hi = bootstrap_ci(values)
    assert lo <= sum(values) / len(values) <= hi and lo < hi
    per_task = {str(i): v for i, v in enumerate(values)}
    assert paired_ci(per_task, per_task) == (0.0, (0.0, 0.0))
