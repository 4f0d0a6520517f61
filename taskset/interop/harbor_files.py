"""Pure: the text of every file of a Harbor task directory (Harbor 0.25, task schema 1.4), from a Task.

::

    task.toml               schema_version; [task]; [metadata] difficulty, category, tags and
                            [metadata.loopctl] (provenance); [verifier], [agent], [environment]
    instruction.md          the problem statement and the failing tests by name (nothing of the fix)
    environment/Dockerfile  the task's Python, the repository at base_commit as one commit, the
                            frozen pins (dependencies only), an unprivileged ``agent`` user
    tests/test.sh           test files back as of the fix, every test module run, reward written
    solution/solve.sh       applies solution/gold.patch

Nothing here touches the disk or the repository: ``harbor`` writes these texts and the files
that need the repository (the bundle, the test files as of the fix).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Mapping
from typing import Any

from taskset.evaluation.runner import NO_CACHE
from taskset.evaluation.verdict import time_limit
from taskset.interop.swebench_eval import WORKDIR, test_environment, test_files
from taskset.interop.swebench_repo import image_head, interpreter_version
from taskset.record import Task
from taskset.workspace.files import SYMLINK

SCHEMA_VERSION = "1.4"
"""Harbor's task.toml schema version (harbor 0.25)."""
AGENT_USER = "agent"
"""The Dockerfile's unprivileged user the agent runs as: it owns the workspace, not the packages."""
BUNDLE = "repo.bundle"
PINS = "requirements.txt"
RECORD = "loopctl/task.json"
"""The whole loopctl task record, under tests/: Harbor shows tests/ to the verifier only."""
RESTORE = "loopctl/restore.json"
SCRIPT_DIR = "loopctl/plugin"
SCRIPT = "loopctl_harbor.py"
GOLD = "gold.patch"
VERIFIER_MARGIN = 60.0
"""Seconds the verifier gets beyond the evaluator's test time limit (restoring files, grading)."""
AGENT_RUNS = 10
"""The agent's time: room for this many verifier runs (and never less than ``AGENT_FLOOR``)."""
AGENT_FLOOR = 1800.0
MEMORY_MB = 4096
LINT_IGNORED = ("shared-verifier",)
"""The verifier shares the agent's sandbox on purpose (it grades the agent's tree), as loopctl's
evaluator does; test.sh restores the test files and configuration first, and the agent is not the
user that owns the interpreter and its packages."""
LOGS = "/logs/verifier"


def harbor_name(name: str) -> str:
    """``name`` as Harbor's ``org/name`` part: letters, digits, ``.``, ``_`` and ``-``, not starting with a dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "task"
    return re.sub(r"\.{2,}", ".", cleaned)


def verifier_timeout(task: Task) -> float:
    """Seconds for test.sh: the evaluator's own time limit for this task (from calibration), plus a margin."""
    return float(math.ceil(time_limit(task) + VERIFIER_MARGIN))


def agent_timeout(task: Task) -> float:
    """Seconds for the agent: ``AGENT_RUNS`` verifier runs, at least ``AGENT_FLOOR``."""
    return max(AGENT_FLOOR, AGENT_RUNS * verifier_timeout(task))


def task_toml(task: Task) -> str:
    """task.toml: Harbor's configuration plus loopctl's provenance under ``[metadata.loopctl]``."""
    calibration = task.calibration
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "task": {
            "name": f"loopctl/{harbor_name(task.instance_id)}",
            "description": task.meta.subject or task.instance_id,
            "keywords": ["loopctl", "bug-fix", "python", "pytest"],
        },
        "metadata": {
            "difficulty": calibration.difficulty.value,
            "category": "bug-fix",
            "tags": [task.repo, "pytest"],
            "loopctl": {
                "instance_id": task.instance_id,
                "repo": task.repo,
                "repo_url": task.repo_url,
                "base_commit": task.base_commit,
                "fix_commit": task.fix_commit,
                "created_at": task.created_at,
                "fail_to_pass": len(task.FAIL_TO_PASS),
                "pass_to_pass": len(task.PASS_TO_PASS),
                "python": interpreter_version(task),
                "resolution_date": task.environment.exclude_newer,
                "calibration": calibration.status.value,
                "gold_seconds": calibration.gold_seconds,
                "record": f"tests/{RECORD}",
            },
            "harbor": {"lint": {"ignore": list(LINT_IGNORED)}},
        },
        "verifier": {"timeout_sec": verifier_timeout(task)},
        "agent": {"timeout_sec": agent_timeout(task), "user": AGENT_USER},
        "environment": {
            "cpus": 1,
            "memory_mb": MEMORY_MB,
            "network_mode": "no-network",
            "workdir": WORKDIR,
        },
    }
    header = (f"# {task.instance_id}: a loopctl task (its full record: tests/{RECORD}).\n"
              "# Run without Docker: see loopctl's docs/task-format.md, \"Harbor task directories\".\n")
    return header + toml_text(data)


def instruction(task: Task) -> str:
    """instruction.md: what the agent is told. The statement, the failing tests, where the code is."""
    failing = "".join(f"- `{test}`\n" for test in task.FAIL_TO_PASS)
    keep = (f"\n{len(task.PASS_TO_PASS)} other tests in the same test modules pass now and must keep passing.\n"
            if task.PASS_TO_PASS else "")
    return (f"# {task.meta.subject or task.instance_id}\n\n"
            f"The repository `{task.repo}` is checked out in `{WORKDIR}` (the current directory). "
            "Fix the bug in its source code; do not edit the tests: they are put back before grading.\n\n"
            "## Problem statement\n\n"
            f"{task.problem_statement.strip()}\n\n"
            "## Tests that must pass\n\n"
            "These tests fail on the current code and must pass once the problem is fixed:\n\n"
            f"{failing}{keep}")


def dockerfile(task: Task) -> str:
    """environment/Dockerfile: what loopctl's sandbox stands in for (see ``harbor_env``)."""
    lines = [
        *image_head(task),
        "# the dependencies as they resolved for the task, never the project: it is imported from the tree",
        f"COPY {PINS} /loopctl/{PINS}",
        f"RUN python -m pip install --no-cache-dir --no-deps -r /loopctl/{PINS}",
        "# the tree at base_commit as one commit of its own: no history, nothing of the fix",
        f"COPY {BUNDLE} /tmp/{BUNDLE}",
        f"RUN git clone --quiet /tmp/{BUNDLE} {WORKDIR} && rm /tmp/{BUNDLE} \\",
        f" && git -C {WORKDIR} remote remove origin",
        f"RUN useradd --create-home {AGENT_USER} && chown -R {AGENT_USER}:{AGENT_USER} {WORKDIR}",
        f"WORKDIR {WORKDIR}",
    ]
    return "\n".join(lines) + "\n"


def requirements(task: Task) -> str:
    """environment/requirements.txt: the frozen pins, one a line."""
    return "".join(pin + "\n" for pin in task.environment.requirements)


def test_sh(task: Task) -> str:
    """tests/test.sh: restore, run every test module of the listed ids, grade the listed ids."""
    q = shlex.quote
    plugin = f"/tests/{SCRIPT_DIR}"
    env = test_environment(task, WORKDIR)
    pythonpath = ":".join(p for p in (env.pop("PYTHONPATH"), plugin) if p)
    pytest = ["python", "-m", "pytest", "-p", SCRIPT.removesuffix(".py"), "-rA", *NO_CACHE,
              "--continue-on-collection-errors", f"--junitxml={LOGS}/junit.xml", *test_files(task)]
    grade = ["python", f"{plugin}/{SCRIPT}", "grade", LOGS,
             "FAIL_TO_PASS", *task.FAIL_TO_PASS, "PASS_TO_PASS", *task.PASS_TO_PASS]
    lines = [
        "#!/bin/bash",
        f"# {task.instance_id}: the test files back as of the fix, the tests run, the reward written (by loopctl).",
        f"# reward.txt is 1 only when every FAIL_TO_PASS and PASS_TO_PASS test passed; per test: {LOGS}/tests.json.",
        "set -u",
        f"cd {WORKDIR}",
        f"mkdir -p {LOGS}",
        f"rm -f {LOGS}/reward.txt {LOGS}/reward.json {LOGS}/tests.json {LOGS}/outcomes.json",
        f"python {plugin}/{SCRIPT} restore {WORKDIR} /tests/{RESTORE}",
        *(f"export {name}={q(value)}" for name, value in sorted(env.items())),
        f"export PYTHONPATH={q(pythonpath)}",
        f"export LOOPCTL_HARBOR_RESULTS={LOGS}/outcomes.json",
        shlex.join(pytest),
        shlex.join(grade),
        f"[ -s {LOGS}/reward.txt ] || echo 0 > {LOGS}/reward.txt",
    ]
    return "\n".join(lines) + "\n"


def solve_sh(task: Task) -> str:
    """solution/solve.sh: the gold patch, applied in the workspace (used by Harbor's oracle agent)."""
    return ("#!/bin/bash\n"
            f"# {task.instance_id}: apply the fix commit's source change (written by loopctl).\n"
            "set -euo pipefail\n"
            f"cd {WORKDIR}\n"
            f"git apply --verbose /solution/{GOLD}\n")


def dataset_toml(name: str, count: int) -> str:
    """dataset.toml at the export's top: the dataset's name and the lint configuration every task shares."""
    data = {
        "dataset": {"name": f"loopctl/{harbor_name(name)}",
                    "description": f"{count} bug-fix tasks mined and verified by loopctl",
                    "keywords": ["loopctl", "bug-fix", "python"]},
        "tasks": [],
        "metadata": {"harbor": {"lint": {"ignore": list(LINT_IGNORED)}}},
    }
    return "# A Harbor dataset of loopctl tasks; each subdirectory is one task.\n" + toml_text(data)


def restore_manifest(files: Mapping[str, tuple[bytes, int] | None], config_names: tuple[str, ...]) -> str:
    """tests/loopctl/restore.json: each restored path's mode, link target, or absence (null)."""
    entries: dict[str, dict[str, Any] | None] = {}
    for rel, snapshot in sorted(files.items()):
        if snapshot is None:
            entries[rel] = None
        elif snapshot[1] == SYMLINK:
            entries[rel] = {"link": snapshot[0].decode("utf-8", "surrogateescape")}
        else:
            entries[rel] = {"mode": snapshot[1]}
    return json.dumps({"files": entries, "config_names": sorted(config_names)}, indent=1, sort_keys=True) + "\n"


def toml_text(data: Mapping[str, Any]) -> str:
    """TOML for nested tables of strings, numbers, booleans and lists of those (keys kept in order)."""
    out: list[str] = []
    _table(data, [], out)
    return "\n".join(out).strip("\n") + "\n"


def _table(data: Mapping[str, Any], path: list[str], out: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        out.append(f"\n[{'.'.join(_key(p) for p in path)}]")
    out.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
    for key, table in tables.items():
        _table(table, [*path, key], out)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes are all valid in TOML basic strings; TOML wants DEL escaped too
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")
