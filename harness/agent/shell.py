"""mini-swe-agent's Environment over taskset's sandboxed shell: every command confined like the tests.

Each command runs through ``taskset.evaluation.shell.run_shell`` in the attempt's workspace (no
network, writes only to the workspace and the attempt's private HOME and TMPDIR, the task's
environment first on PATH), with the per-command deadline and output cap. The done protocol is
mini's: a command whose first output line is ``COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`` and that
exits 0 ends the loop as submitted.

What the commands were is counted here (test runs, whether the failing tests were among them):
confident false success is a declared done without a check the agent could have run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minisweagent.exceptions import Submitted

from taskset.evaluation.shell import run_shell

SUBMIT = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"

_TEST_RUNNER = re.compile(r"(^|[\s;&|(/])(pytest|py\.test|unittest|tox|nox)\b")
_PYTHON = re.compile(r"(^|[\s;&|(/])python[0-9.]*\s")


@dataclass
class ShellCounts:
    """What the agent ran, counted as it ran."""

    commands: int = 0
    test_runs: int = 0
    failing_tests_run: bool = False
    timeouts: int = 0
    seconds: float = 0.0
    last_test_output: str = ""
    """The output of the last command that ran tests (the summary after a compaction shows it)."""


@dataclass
class SandboxShell:
    """mini's Environment protocol for one attempt's workspace."""

    env: Any
    """The task's environment (``taskset.env.environment.Environment``)."""
    root: Path
    home: Path
    tmp: Path
    pythonpath: tuple[str, ...]
    timeout: float
    output_cap: int
    failing_tests: tuple[str, ...]
    counts: ShellCounts = field(default_factory=ShellCounts)
    config: dict[str, Any] = field(init=False, default_factory=dict)
    """What mini serialises as the environment's config."""

    def __post_init__(self) -> None:
        self.config = {"timeout": self.timeout, "output_cap": self.output_cap, "pythonpath": list(self.pythonpath)}

    def execute(self, action: dict, cwd: str = "", *, timeout: int | None = None) -> dict[str, Any]:
        """Run the action's command confined; raises mini's Submitted on the done protocol."""
        command = action["command"]
        ran = run_shell(self.env, self.root, command, home=self.home, tmp=self.tmp, pythonpath=self.pythonpath,
                        timeout=float(timeout or self.timeout), output_cap=self.output_cap)
        self.counts.commands += 1
        self.counts.seconds += ran.duration
        info = ""
        if ran.timed_out:
            self.counts.timeouts += 1
            info = f"the command was killed after {self.timeout:.0f} seconds (the per-command time limit)"
        output = {"output": ran.output, "returncode": -1 if ran.exit_code is None else ran.exit_code,
                  "exception_info": info, "extra": {"sandbox": ran.sandbox, "seconds": round(ran.duration, 3),
                                                    "truncated": ran.truncated}}
        if runs_tests(command, self.failing_tests):
            self.counts.test_runs += 1
            self.counts.last_test_output = ran.output
            self.counts.failing_tests_run |= names_failing_tests(command, self.failing_tests)
        lines = ran.output.lstrip().splitlines()
        if lines and lines[0].strip() == SUBMIT and ran.exit_code == 0:
            submission = "".join(ran.output.lstrip().splitlines(keepends=True)[1:])
            raise Submitted({"role": "exit", "content": submission,
                             "extra": {"exit_status": "Submitted", "submission": submission}})
        return output

    def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
        """Variables the prompts may use (never the host's environment)."""
        return {"cwd": str(self.root)}

    def serialize(self) -> dict[str, Any]:
        """The environment's part of the trajectory's ``info``."""
        return {"info": {"config": {"environment": self.config, "environment_type": f"{__name__}.SandboxShell"}}}


def runs_tests(command: str, failing: tuple[str, ...]) -> bool:
    """True when ``command`` starts a test runner, or runs python on a failing test's file (reading one with
    ``cat`` is not a test run)."""
    if _TEST_RUNNER.search(command):
        return True
    return bool(_PYTHON.search(command)) and any(t.partition("::")[0] in command for t in failing)


def names_failing_tests(command: str, failing: tuple[str, ...]) -> bool:
    """True when ``command`` would run a FAIL_TO_PASS test: it names one (or its file), or runs pytest
    with no path at all (the whole suite)."""
    for test in failing:
        path, _, name = test.partition("::")
        if path in command or (name and name.split("[")[0] in command):
            return True
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    for i, word in enumerate(words):
        module = word == "-m" and words[i + 1:i + 2] == ["pytest"]
        if word in ("pytest", "py.test") or word.endswith("/pytest") or module:
            rest = words[i + 1:] if word != "-m" else words[i + 2:]
            rest = rest[:next((j for j, w in enumerate(rest) if w in ("&&", "||", ";", "|")), len(rest))]
            return not [w for w in rest if not w.startswith("-")]
    return False
