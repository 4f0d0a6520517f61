"""The problem statement, the ledger (resume, cut lines) and the summary."""

from __future__ import annotations

import json

from miner.ledger import REJECTIONS_FILE, Ledger, read_rejections
from miner.rejections import Reason, Rejection
from miner.statement import failure_output, render
from miner.summary import Summary

PATCH = (
    "diff --git a/pkg/text.py b/pkg/text.py\n--- a/pkg/text.py\n+++ b/pkg/text.py\n@@ -1,2 +1,2 @@\n"
    " def truncate(text, width):\n-    return text[:width] + '…'\n+    return text[: width - 1] + '…'\n"
)


def test_statement_never_contains_a_gold_patch_line():
    """No line the gold patch adds or removes appears in the problem statement."""
    output = failure_output({
        "tests/test_text.py::test_truncate": (
            "def test_truncate():\n>       assert truncate('hello', 3) == 'he…'\n"
            "pkg/text.py:2: in truncate\n    return text[:width] + '…'\nE   AssertionError\n"
            "    return text[: width - 1] + '…'\n"
        )
    })
    text = render("Fix truncate exceeding the width (#4)", ["tests/test_text.py::test_truncate"], output, PATCH)
    changed = [line[1:].strip() for line in PATCH.splitlines()[4:] if line[:1] in "+-"]
    assert changed
    for line in changed:
        assert line not in text
    assert "Fix truncate exceeding the width (#4)" in text
    assert "tests/test_text.py::test_truncate" in text
    assert "AssertionError" in text


def test_failure_output_is_trimmed():
    """A huge failure text is cut to its tail, per test and overall."""
    output = failure_output({f"t.py::t{i}": "x" * 10_000 for i in range(5)})
    assert len(output) < 5000


def test_ledger_skips_known_fix_commits_and_survives_a_cut_line(tmp_path):
    """A line cut short by a kill is ignored, the next append stays whole, known commits are skipped."""
    out = tmp_path / "ts"
    ledger = Ledger(out)
    ledger.add_rejections([Rejection("a" * 40, Reason.FLAKY, "t flipped")])
    with open(out / REJECTIONS_FILE, "a", encoding="utf-8") as handle:
        handle.write('{"fix_commit": "bbbb')  # killed mid-append
    again = Ledger(out)
    assert again.known == {"a" * 40: Reason.FLAKY}
    again.add_rejections([Rejection("c" * 40, Reason.TIMEOUT), Rejection("a" * 40, Reason.FLAKY)])
    assert [r.fix_commit for r in read_rejections(out / REJECTIONS_FILE)] == ["a" * 40, "c" * 40]


def test_rejection_lines_carry_reason_and_message(tmp_path):
    """Each rejections.jsonl line holds the reason's value and its one-line message."""
    ledger = Ledger(tmp_path)
    ledger.add_rejections([Rejection("d" * 40, Reason.INSTALL_FAILED, "no solution", "Fix x", 2.0)])
    line = json.loads((tmp_path / REJECTIONS_FILE).read_text())
    assert line["reason"] == "install-failed" and line["message"] == Reason.INSTALL_FAILED.message


def test_summary_counts_the_range_from_the_ledger():
    """The funnel counts tasks and rejections by reason among the walked commits only."""
    summary = Summary(repo="o/r", out="ts", commits_walked=3)
    summary.count_range({"a": None, "b": Reason.FLAKY, "z": Reason.TIMEOUT}, ["a", "b", "c"])
    assert summary.tasks == 1 and summary.rejections == {"flaky": 1}
    data = json.loads(summary.to_json())
    assert data["rejected"] == 1 and data["commits_walked"] == 3
    assert "flaky" in summary.text()


def test_era_failures_are_env_incompatible():
    """An install or pytest start that fails on an interpreter-era problem is env-incompatible, not install-failed."""
    from miner.rejections import classify_failure

    old = "ImportError: cannot import name 'Mapping' from 'collections' (/usr/lib/python3.11/collections/__init__.py)"
    assert classify_failure(old, Reason.INSTALL_FAILED) is Reason.ENV_INCOMPATIBLE
    cfg = "Failed: [pytest] section in setup.cfg files is no longer supported, change to [tool:pytest] instead."
    assert classify_failure(cfg, Reason.TEST_RUN_FAILED) is Reason.ENV_INCOMPATIBLE
    assert classify_failure("error: No solution found", Reason.INSTALL_FAILED) is Reason.INSTALL_FAILED
    deprecated = "E   DeprecationWarning: 'cgi' is deprecated and slated for removal in Python 3.13"
    assert classify_failure(deprecated, Reason.TEST_RUN_FAILED) is Reason.ENV_INCOMPATIBLE


def test_instance_id_and_test_modules():
    """instance_id is owner__repo-<12 hex>; only collectable test modules are run (not conftest or data)."""
    from miner.validate import instance_id, is_test_module

    assert instance_id("jpadilla/pyjwt", "0123456789abcdef") == "jpadilla__pyjwt-0123456789ab"
    assert is_test_module("tests/test_api.py") and is_test_module("pkg/api_test.py")
    assert not is_test_module("tests/conftest.py") and not is_test_module("tests/data/x.json")
    assert not is_test_module("tests/utils.py")


def test_miner_errors_are_retried_on_the_next_run(tmp_path):
    """A miner-error rejection is no verdict on the commit: the next run validates it again."""
    Ledger(tmp_path).add_rejections(
        [Rejection("e" * 40, Reason.MINER_ERROR, "lock"), Rejection("f" * 40, Reason.FLAKY)])
    assert Ledger(tmp_path).known == {"f" * 40: Reason.FLAKY}


def test_schema_1_task_files_still_load_and_new_facts_round_trip():
    """A version-1 task file (no order_dependent, no failing_both) loads as the current schema;
    the facts validation now records survive a JSON round trip."""
    import dataclasses
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from factories import make_task
    from taskset import SCHEMA_VERSION, Task

    old = make_task().to_dict()
    old["schema_version"] = 1
    for key in ("order_dependent", "failing_both"):
        old["meta"].pop(key)
    loaded = Task.from_dict(old)
    assert loaded.schema_version == SCHEMA_VERSION >= 2
    assert loaded.meta.order_dependent == () and loaded.meta.failing_both == {}
    meta = dataclasses.replace(loaded.meta, order_dependent=("t.py::a",),
                               failing_both={"t.py::b": "FileNotFoundError: 'hg'"})
    task = dataclasses.replace(loaded, meta=meta)
    assert Task.from_json(task.to_json()) == task
