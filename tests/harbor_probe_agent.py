"""A Harbor agent for tests/test_harbor.py (loaded by Harbor in its Python 3.12 venv, never by pytest).

It asks the sandbox what an agent can see and do, writes the answers to ``probe.json`` in its log
folder, and solves nothing: ``-a harbor_probe_agent:ProbeAgent`` with the tests folder on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shlex

from harbor.agents.base import BaseAgent

HIDDEN_ENV = "LOOPCTL_PROBE_HIDDEN"
"""A host folder the agent must not see (the export, with the task's record and gold patch)."""


def probes() -> dict[str, str]:
    """Each probe's shell command; its exit code and output are the answer."""
    hidden = shlex.quote(os.environ.get(HIDDEN_ENV, "/nonexistent"))
    return {
        "cwd": "pwd",
        "commits": "git log --oneline | wc -l",
        "tests": "ls -A /tests | wc -l",
        "solution": "ls -A /solution | wc -l",
        "hidden": f"ls {hidden}",
        "network": "python -c \"import socket; socket.create_connection(('1.1.1.1', 80), timeout=3)\"",
        "interfaces": "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
        "packages": "python -c \"import os, pytest; open(os.path.join(os.path.dirname(pytest.__file__), 'x'), 'w')\"",
        "workspace": "echo edited > probe.txt && cat probe.txt",
        "tmp (write)": "echo kept > /tmp/probe",
        "tmp (read)": "cat /tmp/probe",
    }


class ProbeAgent(BaseAgent):
    """Runs the probes, one exec each, and records what came back."""

    @staticmethod
    def name() -> str:
        """The agent's name in Harbor's results."""
        return "loopctl-probe"

    def version(self) -> str:
        """Harbor asks every agent for a version."""
        return "1"

    async def setup(self, environment) -> None:
        """Nothing to install."""

    async def run(self, instruction, environment, context) -> None:
        """Every probe in the environment; the answers in ``probe.json``."""
        answers = {}
        for label, command in probes().items():
            done = await environment.exec(command)
            answers[label] = {"rc": done.return_code, "out": (done.stdout or "").strip()}
        (self.logs_dir / "probe.json").write_text(json.dumps(answers, indent=1))
