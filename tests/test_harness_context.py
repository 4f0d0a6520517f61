"""Context settings: which files an edit tier's prompt shows, and what the run records about it."""

from __future__ import annotations

import dataclasses
import json

from click.testing import CliRunner

from cli import cli
from harness.config import DEFAULT_CONTEXT, ContextSetting, Tier, load_config
from harness.loop.context import bm25_rank, fill, named_in, project_imports, traceback_rank
from harness.records.attempts import read_attempts, read_settings
from taskset.record import Task
from test_harness_server import GOOD_ANSWER, Reply, ScriptedServer, build_taskset, build_tiny_task

FILES = {
    "pkg/__init__.py": "from pkg.api import encode\n",
    "pkg/api.py": "from pkg.algorithms import get_algorithm\n\ndef encode(payload, key):\n    return payload\n",
    "pkg/algorithms.py": "class HMACAlgorithm:\n    def sign(self, msg, key):\n        return msg\n",
    "pkg/data.py": "TABLE = {}\n",
    "pkg/exceptions.py": "class InvalidTokenError(Exception):\n    pass\n",
    "tests/test_api.py": "from pkg import encode\n\ndef test_encode():\n    assert encode(1, 2) == 3\n",
}


def task(**fields) -> Task:
    """A task record for the pure retrieval functions (no repository is read)."""
    base = dict(instance_id="o__r-000000000000", repo="o/r", repo_url="/nowhere", base_commit="0" * 40,
                fix_commit="1" * 40, created_at="2024-01-01T00:00:00+00:00", patch="", test_patch="",
                problem_statement="", FAIL_TO_PASS=("tests/test_api.py::test_encode",), PASS_TO_PASS=())
    return Task(**{**base, **fields})


def test_oracle_is_never_the_default():
    """No tier gets the gold patch's files unless the user asks for them."""
    assert DEFAULT_CONTEXT is not ContextSetting.ORACLE
    assert all(t.context is not ContextSetting.ORACLE or t.provider.value == "oracle"
               for t in load_config().tiers.values())
    assert Tier(name="t").context is DEFAULT_CONTEXT


def test_traceback_puts_the_deepest_named_frame_first_then_what_the_tests_import():
    """Files the output names come first, the last named (the deepest frame) at the top; then the failing
    test module's project imports, followed through a package __init__ to the module it re-exports."""
    output = ("tests/test_api.py:4: in test_encode\n/tmp/ws/pkg/api.py:5: in encode\n"
              "/tmp/ws/pkg/exceptions.py:2: InvalidTokenError\n")
    ranked = traceback_rank(task(failure_output=output), FILES)
    assert ranked[:2] == ["pkg/exceptions.py", "pkg/api.py"]
    assert ranked.index("pkg/__init__.py") < ranked.index("tests/test_api.py")
    assert "pkg/data.py" not in ranked and "pkg/algorithms.py" in ranked  # imported by api.py


def test_a_path_is_named_only_as_a_whole_word():
    """``data.py`` in the output does not name ``a.py``; ``pkg/data.py`` names itself."""
    assert named_in("File pkg/data.py, line 1", ["a.py", "data.py", "pkg/data.py"]) == ["pkg/data.py"]


def test_project_imports_resolve_relative_and_src_layouts():
    """``from .core import x`` inside a package and a src/ layout both resolve to project files."""
    files = {"src/lib/__init__.py": "from .core import run\n", "src/lib/core.py": "import os\n",
             "tests/test_lib.py": "import lib\n"}
    assert project_imports("tests/test_lib.py", files) == ["src/lib/__init__.py", "src/lib/core.py"]


def test_bm25_ranks_the_file_the_problem_statement_describes():
    """The words of the problem (split at case and underscores) point at the file that holds them."""
    query = "HMACAlgorithm.sign returns the message unsigned"
    assert bm25_rank(query, FILES)[0] == "pkg/algorithms.py"


def test_fill_skips_a_file_that_does_not_fit_and_keeps_going():
    """A file too big for what is left is skipped, not cut, and smaller ones after it still go in."""
    files = {"big.py": "x" * 1000, "small.py": "y" * 10, "first.py": "z" * 10}
    assert list(fill(["first.py", "big.py", "small.py"], files, 200)) == ["first.py", "small.py"]


def test_a_run_records_its_context_and_the_gold_files_its_prompts_showed(make_repo, python_project_env, tmp_path):
    """`harness run --context traceback`: run.json, every attempt record, summary --json and both reports
    name the setting; the prompt held calc.py (imported by the failing test), so recall is 100%."""
    tiny = build_tiny_task(make_repo("tiny"))
    taskset = build_taskset(tmp_path / "ts", [tiny])
    out = tmp_path / "run"
    with ScriptedServer({"local-m": [Reply(content=GOOD_ANSWER)]}) as server:
        conf = tmp_path / "loopctl.toml"
        conf.write_text(f'[tiers.local]\nbase_url = "{server.url}"\nmodel = "local-m"\nmax_retries = 0\n')
        result = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(taskset), "--tiers", "local",
                                          "--strategies", "always-local", "--config", str(conf), "--context",
                                          "traceback", "--out", str(out), "--json"])
        prompt = server.requests[0]["messages"][1]["content"]
    assert result.exit_code == 0, result.output
    assert "calc.py" in prompt and "def add" in prompt
    assert read_settings(out)["tiers"][0]["context"] == "traceback"
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.context is ContextSetting.TRACEBACK and record.gold_in_prompt == ("calc.py",)
    summary = json.loads(result.output)["summary"]
    assert summary["run"]["context"] == "traceback"
    assert summary["retrieval"]["traceback"]["recall"] == 1.0
    report = CliRunner().invoke(cli, ["harness", "report", str(out)])
    assert report.exit_code == 0 and "context traceback" in report.output
    assert "context: traceback" in (out / "report.html").read_text() and "(context: traceback)" in (
        out / "report.md").read_text()


def test_a_run_directory_from_before_context_settings_reads_as_oracle(tmp_path):
    """Old run.json tiers carry no context: they ran with the gold patch's files, and say so."""
    from harness.records.attempts import tier_from_dict

    old = {k: v for k, v in Tier(name="local").public().items() if k not in ("context", "context_tokens")}
    assert tier_from_dict(old).context is ContextSetting.ORACLE
    assert dataclasses.replace(tier_from_dict(old), context=DEFAULT_CONTEXT).fingerprint() != tier_from_dict(
        old).fingerprint()


def test_a_tier_sets_its_context_in_the_config_and_a_bad_value_is_named(tmp_path):
    """``context = "traceback"`` under a tier sets it for that tier alone; an unknown setting is a
    ConfigError naming the key and the settings there are."""
    import pytest

    from harness.errors import ConfigError

    good = tmp_path / "good.toml"
    good.write_text('[tiers.o3]\ncontext = "traceback"\ncontext_tokens = 4000\n')
    conf = load_config(good)
    assert conf.tiers["o3"].context is ContextSetting.TRACEBACK and conf.tiers["o3"].context_tokens == 4000
    assert conf.tiers["local"].context is DEFAULT_CONTEXT
    bad = tmp_path / "bad.toml"
    bad.write_text('[tiers.o3]\ncontext = "grep"\n')
    with pytest.raises(ConfigError, match=r"tiers\.o3\.context.*bm25"):
        load_config(bad)
