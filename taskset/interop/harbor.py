"""Harbor task directories, both ways: ``export_harbor(tasks, DIR)`` and ``read_harbor(DIR)``/``import_harbor``.

::

    DIR/dataset.toml                   the dataset's name; the lint configuration every task shares
    DIR/<instance_id>/task.toml        see ``harbor_files`` for the text of each file
        instruction.md
        environment/Dockerfile         requirements.txt (the frozen pins), repo.bundle (the tree at
                                       base_commit as one commit: no history, nothing of the fix)
        tests/test.sh                  tests/loopctl/: task.json (the whole record, for the import),
                                       restore.json + files/ (test files and pytest configuration as
                                       of the fix), plugin/loopctl_harbor.py (restore, record, grade)
        solution/solve.sh              solution/gold.patch

Harbor shows ``tests/`` to the verifier and ``solution/`` to the oracle only, never to the agent.
The export needs the repository (to bundle the tree and read the test files as of the fix): it
is read through loopctl's cached mirror. Every file is deterministic: a re-export is
byte-identical. The whole export is staged beside ``DIR`` and renamed into place.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from taskset.errors import ExportError, RepositoryError, TaskRecordError
from taskset.interop import harbor_files as hf
from taskset.interop.destination import ExportResult, check_destination, store_tasks, write_directory
from taskset.interop.swebench_repo import bundle_commit
from taskset.record import Task
from taskset.workspace.mirrors import resolve_revision
from taskset.workspace.pytestconfig import CONFIG_NAMES
from taskset.workspace.workspace import Workspace

DATASET_FILE = "dataset.toml"
SCRIPTS = Path(__file__).resolve().parent / "_harbor_scripts"


def export_harbor(tasks: Iterable[Task], path: str | Path) -> ExportResult:
    """Write one Harbor task directory per task under ``path``, replacing a previous export only once complete."""
    path = Path(path)
    check_destination(path, directory=True, marker=DATASET_FILE)
    kept, result = _exportable(tasks, path)

    def write(staging: Path) -> None:
        _write(staging / DATASET_FILE, hf.dataset_toml(path.absolute().name, len(kept)))
        for task in kept:
            write_task_dir(task, staging / task_dir_name(task))

    write_directory(path, write)
    result.written = len(kept)
    return result


def task_dir_name(task: Task) -> str:
    """The task's directory: its instance id, in the characters Harbor allows in a name."""
    return hf.harbor_name(task.instance_id)


def write_task_dir(task: Task, root: Path) -> None:
    """One task's directory at ``root`` (created): every file of the layout above."""
    try:
        ws = Workspace.for_task(task)
    except RepositoryError as exc:
        raise ExportError(f"{task.instance_id}: cannot read its repository: {exc}") from None
    with ws:
        head = resolve_revision(ws.path / ".git", "HEAD")
        (root / "environment").mkdir(parents=True)
        bundle_commit(ws.path / ".git", head, root / "environment" / hf.BUNDLE, task.instance_id)
        restored = ws.restored_files()
    tests = root / "tests"
    files = {
        "task.toml": hf.task_toml(task),
        "instruction.md": hf.instruction(task),
        "environment/Dockerfile": hf.dockerfile(task),
        f"environment/{hf.PINS}": hf.requirements(task),
        "tests/test.sh": hf.test_sh(task),
        f"tests/{hf.RECORD}": task.to_json(),
        f"tests/{hf.RESTORE}": hf.restore_manifest(restored, CONFIG_NAMES),
        "solution/solve.sh": hf.solve_sh(task),
        f"solution/{hf.GOLD}": task.patch,
    }
    for rel, text in files.items():
        _write(root / rel, text, executable=rel.endswith(".sh"))
    for rel, snapshot in restored.items():
        if snapshot is not None and snapshot[1] >= 0:  # content, not a link (links live in restore.json)
            target = tests / "loopctl" / "files" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(snapshot[0])
            target.chmod(0o644)
    plugin = tests / hf.SCRIPT_DIR / hf.SCRIPT
    plugin.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_bytes((SCRIPTS / hf.SCRIPT).read_bytes())
    plugin.chmod(0o644)


def is_harbor_export(path: str | Path) -> bool:
    """True for a directory that looks like a Harbor export: a ``dataset.toml`` or a ``task.toml`` in it."""
    path = Path(path)
    return (path / DATASET_FILE).is_file() or (path / "task.toml").is_file()


def read_harbor(path: str | Path) -> list[Task]:
    """The tasks of a Harbor export loopctl wrote (a dataset directory or one task directory).

    Each comes from its ``tests/loopctl/task.json``, checked against its ``task.toml``; a
    directory without one was not written by loopctl and raises TaskRecordError naming it.
    """
    import tomllib

    path = Path(path)
    if not path.is_dir():
        raise ExportError(f"{path}: no such directory")
    single = (path / "task.toml").is_file()
    dirs = [path] if single else sorted(p for p in path.iterdir() if (p / "task.toml").is_file())
    if not dirs:
        raise ExportError(f"{path}: neither a Harbor task directory nor a dataset of them (no task.toml)")
    tasks: dict[str, Task] = {}
    for task_dir in dirs:
        record = task_dir / "tests" / hf.RECORD
        if not record.is_file():
            raise TaskRecordError(str(task_dir), "tests/" + hf.RECORD, "missing: not a task directory loopctl exported")
        try:
            task = Task.from_json(record.read_text(encoding="utf-8"), str(record))
            meta = tomllib.loads((task_dir / "task.toml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise TaskRecordError(str(task_dir), "<file>", f"cannot be read ({exc})") from None
        named = meta.get("metadata", {}).get("loopctl", {}).get("instance_id")
        if named != task.instance_id:
            raise TaskRecordError(str(task_dir / "task.toml"), "metadata.loopctl.instance_id",
                                  f"{named!r} does not match the record's {task.instance_id!r}")
        if task.instance_id in tasks:
            raise TaskRecordError(str(record), "instance_id", f"{task.instance_id!r} appears twice")
        tasks[task.instance_id] = task
    return list(tasks.values())


def import_harbor(path: str | Path, taskset_dir: str | Path, clone_from: str = "") -> int:
    """Read a Harbor export into the task set at ``taskset_dir``: every task or, on a bad one, none.

    ``clone_from`` replaces each task's ``repo_source`` (where this machine clones the repository).
    """
    import dataclasses

    tasks = read_harbor(path)
    if clone_from:
        tasks = [dataclasses.replace(task, repo_source=clone_from) for task in tasks]
    return store_tasks(tasks, taskset_dir)


def _exportable(tasks: Iterable[Task], path: Path) -> tuple[list[Task], ExportResult]:
    result = ExportResult(path)
    kept: list[Task] = []
    names: dict[str, str] = {}
    for task in tasks:
        name = task_dir_name(task)
        if not task.FAIL_TO_PASS:
            result.skipped.append((task.instance_id, "no FAIL_TO_PASS test, so nothing grades it"))
        elif not task.environment.requirements:
            result.skipped.append((task.instance_id, "no frozen requirements: the image would resolve its "
                                                     "dependencies anew (build its environment with loopctl first)"))
        elif name in names:
            raise ExportError(f"{task.instance_id} and {names[name]} would share the directory {name}")
        else:
            names[name] = task.instance_id
            kept.append(task)
    return kept, result


def _write(path: Path, text: str, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:  # CRLFs kept
        handle.write(text)
    path.chmod(0o755 if executable else 0o644)


__all__ = ["DATASET_FILE", "export_harbor", "import_harbor", "is_harbor_export", "read_harbor", "task_dir_name",
           "write_task_dir"]
