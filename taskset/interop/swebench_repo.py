"""A SWE-bench 5 task repository: the layout ``swebench.task`` reads and ``check_task_repo`` checks.

::

    sweb.yaml                  datasets: [loopctl/<name>], splits: [test]
    tasks/<instance_id>/
        task.yaml              instance_id, repo, version, base_commit, split, datasets, image,
                               log_parser, eval_type, ... and loopctl's own fields
        tests.json             FAIL_TO_PASS, PASS_TO_PASS (lists)
        problem_statement.md   gold.patch   test.patch   eval.sh
        Dockerfile             python:<the task's interpreter>-slim, the repository at base_commit,
                               the frozen requirements installed as they resolved
        requirements.txt       those pins (the Dockerfile's build context is this directory)
        repo.bundle            the history up to base_commit, when there is no public URL to clone

The Dockerfile never holds anything past ``base_commit``: a public clone is cut back to it and
garbage-collected; a bundle holds only its ancestors.
"""

from __future__ import annotations

import json
import platform
import shlex
import tempfile
from pathlib import Path

from taskset.env import pythons
from taskset.errors import ExportError, RepositoryError
from taskset.interop.swebench_eval import WORKDIR, test_environment
from taskset.interop.swebench_rows import TEST_FIELDS, to_swebench
from taskset.record import Task
from taskset.workspace.mirrors import last_line, mirror, run_git

SPLIT = "test"
CONFIG_FILE = "sweb.yaml"
TASKS_DIR = "tasks"
PINS = "requirements.txt"
BUNDLE = "repo.bundle"
AS_FILE = {"patch": "gold.patch", "test_patch": "test.patch", "eval_script": "eval.sh",
           "problem_statement": "problem_statement.md"}
"""Row columns a task repo keeps as files of their own, not in task.yaml."""


def write_task_repo(tasks: list[Task], root: Path, dataset: str) -> None:
    """Write every task's directory and ``sweb.yaml`` under ``root`` (an empty, fresh directory)."""
    yaml = _yaml()
    (root / CONFIG_FILE).write_text(_dump(yaml, {"datasets": [dataset], "splits": [SPLIT]}), encoding="utf-8")
    for task in tasks:
        task_dir = root / TASKS_DIR / task.instance_id
        task_dir.mkdir(parents=True)
        write_task(task, task_dir, dataset, yaml)


def write_task(task: Task, task_dir: Path, dataset: str, yaml=None) -> None:
    """One ``tasks/<instance_id>/`` directory."""
    yaml = yaml or _yaml()
    row = to_swebench(task)
    row.pop("repo_source", None)  # a task repository travels: its history is in repo.bundle instead
    for column, name in AS_FILE.items():
        _write(task_dir / name, row.pop(column))
    tests = {name: list(getattr(task, name)) for name in TEST_FIELDS}
    for name in TEST_FIELDS:
        row.pop(name)
    _write(task_dir / "tests.json", json.dumps(tests, indent=2, ensure_ascii=False) + "\n")
    row.pop("hints_text")  # hints.md is written only when there are hints; we have none
    row.update(split=SPLIT, datasets=[dataset])
    _write(task_dir / "task.yaml", _dump(yaml, row))
    _write(task_dir / PINS, "".join(pin + "\n" for pin in task.environment.requirements))
    if not row["repo_url"]:
        _bundle(task, task_dir / BUNDLE)
    _write(task_dir / "Dockerfile", dockerfile(task, row["repo_url"]))


def dockerfile(task: Task, clone_url: str) -> str:
    """The image: a slim Python of the task's interpreter, the repository at base_commit, the pinned packages.

    The repository is cloned from ``clone_url`` (public), or from ``repo.bundle`` when that is empty.
    """
    python = interpreter_version(task)
    base = task.base_commit
    lines = image_head(task)
    if not clone_url:
        lines += [f"COPY {BUNDLE} /tmp/{BUNDLE}", f"RUN git clone --quiet /tmp/{BUNDLE} {WORKDIR} && rm /tmp/{BUNDLE}"]
    else:
        lines += [f"RUN git clone --quiet {shlex.quote(clone_url)} {WORKDIR}"]
    lines += [
        "# nothing past base_commit stays in the image: no remote, no refs, no unreachable objects",
        f"RUN cd {WORKDIR} && git checkout --quiet --detach {base} \\",
        " && (git remote remove origin || true) \\",
        " && git for-each-ref --format='%(refname)' | xargs -r -n1 git update-ref -d \\",
        " && git reflog expire --expire=now --all && git gc --quiet --prune=now",
        f"WORKDIR {WORKDIR}",
        f"COPY {PINS} /loopctl/{PINS}",
    ]
    if task.environment.requirements:
        lines.append(f"RUN python -m pip install --no-cache-dir --no-deps -r /loopctl/{PINS}")
        if any(step.startswith(".") for step in task.environment.install):
            lines.append("RUN python -m pip install --no-cache-dir --no-deps .")
    else:  # no pins recorded (an imported task): resolve as loopctl would, as of the task's date
        date = pythons.effective_date(task.created_at or None, python)
        dated = f"--exclude-newer {date} " if date else ""
        lines.append(f"RUN python -m pip install --no-cache-dir uv && uv pip install --system {dated}. pytest")
    return "\n".join(lines) + "\n"


def image_environment(task: Task) -> dict[str, str]:
    """The variables an image sets: the evaluator's pinned ones, ``PYTHONPATH`` into the workspace."""
    return {**test_environment(task, WORKDIR), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def image_head(task: Task) -> list[str]:
    """A Dockerfile's first lines: what it is, a slim Python of the task's interpreter, git, the variables."""
    python = interpreter_version(task)
    return [
        f"# {task.instance_id}: {task.repo} at {task.base_commit}, Python {python} (written by loopctl)",
        f"FROM python:{python}-slim",
        "RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates patch \\",
        " && rm -rf /var/lib/apt/lists/*",
        "ENV " + " ".join(f"{name}={shlex.quote(value)}" for name, value in sorted(image_environment(task).items())),
    ]


def interpreter_version(task: Task) -> str:
    """The task's interpreter (``3.11.7``); a task that recorded none runs on this machine's, as loopctl would."""
    return task.environment.python or platform.python_version()


def _bundle(task: Task, dest: Path) -> None:
    """A git bundle of ``base_commit`` and its ancestors only (branch ``main`` at ``base_commit``)."""
    location = task.clone_location
    if not location:
        raise ExportError(f"{task.instance_id}: no public repo_url and no local clone to bundle the repository from")
    try:
        git_dir = mirror(location, update=False)
    except RepositoryError as exc:
        raise ExportError(f"{task.instance_id}: cannot read the repository to bundle it: {exc}") from None
    bundle_commit(git_dir, task.base_commit, dest, task.instance_id)


def bundle_commit(git_dir: Path, sha: str, dest: Path, what: str) -> None:
    """A git bundle at ``dest`` of commit ``sha`` of ``git_dir`` and its ancestors only (branch ``main``).

    Nothing is written to ``git_dir``; one pack thread, so the same commit gives the same bytes.
    ``what`` names the task in an ExportError.
    """
    with tempfile.TemporaryDirectory(prefix="loopctl-bundle-") as tmp:
        scratch = Path(tmp) / "scratch.git"
        # a bare repo borrowing the mirror's objects: one ref at sha, nothing written to the mirror
        steps = [["init", "--quiet", "--bare", str(scratch)],
                 ["--git-dir", str(scratch), "update-ref", "refs/heads/main", sha],
                 ["--git-dir", str(scratch), "symbolic-ref", "HEAD", "refs/heads/main"],
                 ["-c", "pack.threads=1", "--git-dir", str(scratch), "bundle", "create", "--quiet", str(dest), "main"]]
        for number, args in enumerate(steps):
            if number == 1:
                (scratch / "objects" / "info" / "alternates").write_text(str(git_dir / "objects") + "\n")
            done = run_git(args)
            if done.returncode != 0:
                raise ExportError(f"{what}: cannot bundle {sha[:12]}: {last_line(done.stderr)}")


def _yaml():
    try:
        import yaml
    except ImportError:
        raise ExportError("--format swebench-repo needs PyYAML: pip install 'loopctl[swebench]'") from None
    return yaml


def _dump(yaml, data: dict) -> str:
    """Block-style YAML with multi-line strings as literal blocks (as swebench writes its own)."""

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=Dumper, sort_keys=True, allow_unicode=True, default_flow_style=False)


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:  # patches keep their CRLFs
        handle.write(text)

