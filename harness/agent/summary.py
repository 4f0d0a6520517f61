"""The task-anchored summary a compaction leaves in place of the history (pure, no I/O).

A summary written by the model itself can drift from the task; this one is built from facts the
harness holds: the task text, the failing tests, the files the agent has changed so far (read
from the workspace), the last test output, and the last commands with their exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from taskset.evaluation.junit import trim

OUTPUT_CHARS = 3000
"""Characters of the last test output the summary keeps (head and tail)."""
RECENT = 8
"""The last commands the summary lists."""


def summary(task_text: str, failing_tests: Sequence[str], changed: Sequence[str], last_test_output: str,
            recent: Sequence[tuple[str, int | None]], compactions: int) -> str:
    """The user message that replaces the history: what the task is and where the work stands."""
    parts = [f"[Context compacted ({compactions}): the conversation so far was replaced by this summary.]",
             "", "## The task", task_text.strip(), "", "## Tests that must pass"]
    parts += [f"- {test}" for test in failing_tests] or ["- (none named)"]
    parts += ["", "## Files you have changed so far"]
    parts += [f"- {path}" for path in changed] or ["- (none yet)"]
    parts += ["", "## Your last commands (exit code)"]
    parts += [f"- `{_one_line(cmd)}` -> {code}" for cmd, code in recent[-RECENT:]] or ["- (none)"]
    parts += ["", "## Last test output"]
    parts += [trim(last_test_output.strip(), OUTPUT_CHARS) if last_test_output.strip() else "(no tests run yet)"]
    parts += ["", "Continue from here: one command per reply. When the tests pass, run "
                  "`echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` on its own."]
    return "\n".join(parts)


def _one_line(command: str, limit: int = 200) -> str:
    line = " ".join(command.split())
    return line if len(line) <= limit else line[:limit] + " ..."
