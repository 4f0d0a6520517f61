"""Harbor task directories: the calibrated sample (and a task whose test id holds spaces and brackets)
exported, linted and loaded by Harbor 0.25's own code, run by ``harbor run`` with loopctl's
sandbox as the environment (no Docker): the oracle earns reward 1 on every task, a no-op agent 0;
the export imports back to the same tasks and re-exports byte for byte.

Harbor needs Python 3.12: the venv is ``$LOOPCTL_HARBOR_VENV`` (CI makes it once), else
``.venv-harbor`` in the checkout, else one made here from the package index.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import taskset
from cli import cli
from taskset.interop.harbor_files import toml_text

pytestmark = pytest.mark.slow  # mines, calibrates and runs tasks in their environments

ROOT = Path(__file__).resolve().parents[1]
HARBOR = "0.25.0"
VENV_ENV = "LOOPCTL_HARBOR_VENV"
ENVIRONMENT = "taskset.interop.harbor_env:LoopctlEnvironment"
SCRIPT = ROOT / "taskset" / "interop" / "_harbor_scripts" / "loopctl_harbor.py"
ODD_ID = "tests/test_odd.py::test_odd[a b-[1]]"
ODD_PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
                 '[project]\nname = "odd"\nversion = "0.1"\n[project.optional-dependencies]\ntest = ["pytest"]\n'
                 '[tool.setuptools]\npy-modules = ["odd"]\n')


def python312() -> str | None:
    """A Python 3.12 interpreter: ``python3.12`` on PATH, else pyenv's; None when there is none."""
    candidates = [shutil.which("python3.12")]
    pyenv = shutil.which("pyenv")
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip() if pyenv else ""
    root_path = Path(root or Path("~/.pyenv").expanduser())
    candidates += [str(p) for p in sorted((root_path / "versions").glob("3.12*/bin/python3.12"))]
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == "True":
            return candidate
    return None


def _has_harbor(path: Path) -> bool:
    harbor = path / "bin" / "harbor"
    return harbor.is_file() and subprocess.run([str(harbor), "--version"], capture_output=True,
                                               text=True).stdout.strip() == HARBOR


@pytest.fixture(scope="session")
def harbor_venv(tmp_path_factory) -> Path:
    """A Python 3.12 venv with harbor==0.25.0 and loopctl's dependencies (made once per session at most)."""
    for known in (os.environ.get(VENV_ENV), ROOT / ".venv-harbor"):
        if known and _has_harbor(Path(known)):
            return Path(known)
    python = python312()
    if python is None:
        pytest.skip("Harbor needs Python >= 3.12 and no python3.12 was found (on PATH or under `pyenv root`)")
    path = tmp_path_factory.mktemp("harbor") / "venv"
    subprocess.run([python, "-m", "venv", str(path)], check=True)
    done = subprocess.run([str(path / "bin" / "pip"), "install", "--quiet", f"harbor=={HARBOR}", "-e", str(ROOT)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return path


@pytest.fixture(scope="module")
def harbor_tasks(mined_sample, tmp_path_factory, session_cache):
    """The sample and one task with an odd test id, calibrated, exported: (task set, export dir)."""
    from conftest import GitRepo

    root = tmp_path_factory.mktemp("harbor-export")
    tasks_dir = root / "ts"
    shutil.copytree(mined_sample[0], tasks_dir)
    repo = GitRepo(root / "odd")
    plain = "def test_plain():\n    assert odd('x') == 'x'\n"
    repo.commit("Initial", {"pyproject.toml": ODD_PYPROJECT, "odd.py": "def odd(text):\n    return text\n",
                            "tests/test_odd.py": "from odd import odd\n\n" + plain})
    repo.commit("Fix odd to drop the outer brackets", {
        "odd.py": "def odd(text):\n    return text[1:-1] if text[:1] == '[' and text[-1:] == ']' else text\n",
        "tests/test_odd.py": "import pytest\nfrom odd import odd\n\n" + plain + "\n"
                             "@pytest.mark.parametrize('text', ['a b-[1]'])\ndef test_odd(text):\n"
                             "    assert odd('[' + text + ']') == text\n"})
    out = root / "harbor"
    with pytest.MonkeyPatch.context() as patch:
        # module fixtures run before the function-scoped ``hermetic``: point the caches ourselves
        patch.setenv("LOOPCTL_CACHE", str(session_cache / "loopctl"))
        patch.setenv("UV_CACHE_DIR", str(session_cache / "uv"))
        mined = CliRunner().invoke(cli, ["mine", "--repo", str(repo.path), "--out", str(root / "odd-ts")],
                                   catch_exceptions=False)
        assert mined.exit_code == 0, mined.output
        store = taskset.TaskSet.open(tasks_dir)
        for task in taskset.load(root / "odd-ts"):
            store.add(task)
        for args in (["calibrate", str(tasks_dir), "--runs", "1", "--jobs", "2"],
                     ["export", str(tasks_dir), "--format", "harbor", "--out", str(out)]):
            result = CliRunner().invoke(cli, args, catch_exceptions=False)
            assert result.exit_code == 0, result.output
    tasks = taskset.load(tasks_dir)
    assert len(tasks) == 7 and f"exported 7 tasks to {out} (harbor)" in result.output
    assert any(ODD_ID in task.FAIL_TO_PASS for task in tasks)
    assert all(task.calibration.status is taskset.CalibrationStatus.OK for task in tasks)
    return tasks_dir, out


def _task_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_export_reads_back_to_the_same_tasks_and_rewrites_byte_for_byte(harbor_tasks, tmp_path):
    """`export --import` of a Harbor export gives every task back, field by field; a re-export is identical."""
    tasks_dir, out = harbor_tasks
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "back"), "--import", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 7 tasks" in result.output
    original, back = taskset.load(tasks_dir), taskset.load(tmp_path / "back")
    assert back.ids == original.ids
    for task in original:
        assert back[task.instance_id].to_dict() == task.to_dict()
    before = _files(out)
    again = CliRunner().invoke(cli, ["export", str(tasks_dir), "--format", "harbor", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert _files(out) == before


def test_nothing_of_the_fix_is_where_the_agent_looks(harbor_tasks):
    """instruction.md, the Dockerfile's context and task.toml name no line the gold patch adds; the bundle
    holds one commit (the base tree), never the fix commit."""
    tasks_dir, out = harbor_tasks
    for task in taskset.load(tasks_dir):
        task_dir = out / task.instance_id
        added = [line[1:].strip() for line in task.patch.splitlines()
                 if line.startswith("+") and not line.startswith("+++") and len(line.strip()) > 8]
        seen = (task_dir / "instruction.md").read_text() + (task_dir / "environment" / "Dockerfile").read_text()
        assert added and not any(line in seen for line in added), task.instance_id
        log = subprocess.run(["git", "bundle", "list-heads", str(task_dir / "environment" / "repo.bundle")],
                             capture_output=True, text=True, check=True).stdout
        assert task.fix_commit not in log and len(log.splitlines()) == 1
        meta = tomllib.loads((task_dir / "task.toml").read_text())["metadata"]["loopctl"]
        assert (meta["fail_to_pass"], meta["pass_to_pass"]) == (len(task.FAIL_TO_PASS), len(task.PASS_TO_PASS))
        assert meta["resolution_date"] == task.environment.exclude_newer


def test_an_id_with_spaces_and_brackets_reaches_test_sh_as_one_word(harbor_tasks):
    """The parametrized id is one shell word of test.sh's grade line, and comes back unchanged."""
    tasks_dir, out = harbor_tasks
    task = next(t for t in taskset.load(tasks_dir) if ODD_ID in t.FAIL_TO_PASS)
    script = (out / task.instance_id / "tests" / "test.sh").read_text()
    grade = next(line for line in script.splitlines() if " grade " in line)
    assert shlex.quote(ODD_ID) in grade and ODD_ID in shlex.split(grade)
    assert ODD_ID in taskset.read_harbor(out / task.instance_id)[0].FAIL_TO_PASS


def _harbor(venv_path: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HARBOR_TELEMETRY": "0", "PYTHONPATH": str(ROOT), "HOME": str(cwd / "home")}
    return subprocess.run([str(venv_path / "bin" / "harbor"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1200)


def test_harbor_lints_and_loads_every_exported_task(harbor_tasks, harbor_venv, tmp_path):
    """`harbor lint` finds nothing (default rules); Harbor's Task and DatasetManifest load every file."""
    _, out = harbor_tasks
    dirs = _task_dirs(out)
    lint = _harbor(harbor_venv, "lint", *map(str, dirs), cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    check = ("import sys\nfrom pathlib import Path\nfrom harbor.models.task.task import Task\n"
             "from harbor.models.dataset.manifest import DatasetManifest\n"
             "for d in sys.argv[2:]:\n    assert Task.is_valid_dir(Path(d)), d\n    print(Task(Path(d)).name)\n"
             "print(DatasetManifest.from_toml_file(Path(sys.argv[1]) / 'dataset.toml').dataset.name)\n")
    done = subprocess.run([str(harbor_venv / "bin" / "python"), "-c", check, str(out), *map(str, dirs)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"loopctl/{d.name}" for d in dirs] + ["loopctl/harbor"]


@pytest.mark.parametrize("agent,reward", [("oracle", 1.0), ("nop", 0.0)])
def test_harbor_runs_every_task_in_loopctls_sandbox(harbor_tasks, harbor_venv, tmp_path, agent, reward):
    """`harbor run --env LoopctlEnvironment`, no Docker: the oracle resolves every task, a no-op agent none."""
    tasks_dir, out = harbor_tasks
    done = _harbor(harbor_venv, "run", "-p", str(out), "-a", agent, "--env", ENVIRONMENT, "-o", "jobs",
                   "--job-name", agent, "-n", "2", "-y", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = sorted((tmp_path / "jobs" / agent).glob("*/result.json"))
    results = {json.loads(p.read_text())["task_name"]: json.loads(p.read_text()) for p in trials}
    assert sorted(results) == sorted(f"loopctl/{t}" for t in taskset.load(tasks_dir).ids)
    details = {}
    for name, result in results.items():
        assert result["exception_info"] is None, (name, result["exception_info"])
        assert result["verifier_result"]["rewards"] == {"reward": reward}, name
        trial = tmp_path / "jobs" / agent / result["trial_name"]
        details[name] = json.loads((trial / "verifier" / "tests.json").read_text())
        assert details[name]["resolved"] is (reward == 1.0)
    odd = next(detail for name, detail in details.items() if name.startswith("loopctl/local__odd"))
    assert odd["FAIL_TO_PASS"][ODD_ID] == ("passed" if reward else "failed")


def test_the_grader_counts_only_passes(tmp_path):
    """Reward 1 only when every listed id passed: skipped, errored or never run is 0 (the in-container script)."""
    cases = [({"t.py::a": "passed", "t.py::b[x y]": "passed"}, 1),
             ({"t.py::a": "passed", "t.py::b[x y]": "skipped"}, 0),
             ({"t.py::a": "passed"}, 0), ({"t.py::a": "error", "t.py::b[x y]": "passed"}, 0)]
    for outcomes, reward in cases:
        (tmp_path / "outcomes.json").write_text(json.dumps(outcomes))
        subprocess.run([sys.executable, str(SCRIPT), "grade", str(tmp_path), "FAIL_TO_PASS", "t.py::a",
                        "PASS_TO_PASS", "t.py::b[x y]"], check=True, capture_output=True)
        assert (tmp_path / "reward.txt").read_text() == f"{reward}\n", outcomes
    (tmp_path / "outcomes.json").unlink()
    subprocess.run([sys.executable, str(SCRIPT), "grade", str(tmp_path), "FAIL_TO_PASS", "t.py::a"], check=True,
                   capture_output=True)
    assert (tmp_path / "reward.txt").read_text() == "0\n"
    assert json.loads((tmp_path / "tests.json").read_text())["FAIL_TO_PASS"] == {"t.py::a": "missing"}


def test_toml_text_is_read_back_by_tomllib():
    """The TOML writer's output parses to the data it was given (quotes, backslashes, DEL, nesting)."""
    data = {"a": "x \"q\" \\ \x7f é", "n": 3, "f": 0.5, "b": True, "l": ["p", "q"],
            "t": {"k": "v", "u": {"w": [1, 2]}}, "s": {"harbor": {"lint": {"ignore": ["r"]}}}}
    assert tomllib.loads(toml_text(data)) == data


def test_the_environment_module_is_loaded_only_by_harbor():
    """`import taskset` and the export never import harbor (it needs Python 3.12; loopctl runs on 3.11)."""
    code = "import sys, taskset, taskset.interop.harbor; print('harbor' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          check=True).stdout.strip() == "False"


def test_an_agent_in_loopctls_sandbox_sees_the_workspace_and_nothing_of_the_task(harbor_tasks, harbor_venv,
                                                                                 tmp_path):
    """During the agent phase: /testbed at base_commit as one commit, writable; /tests and /solution empty;
    the export (record, gold patch) absent; no network but loopback; the packages read-only; /tmp kept."""
    _, out = harbor_tasks
    task_dir = _task_dirs(out)[0]
    done = subprocess.run(
        [str(harbor_venv / "bin" / "harbor"), "run", "-p", str(task_dir), "-a", "harbor_probe_agent:ProbeAgent",
         "--env", ENVIRONMENT, "-o", "jobs", "--job-name", "probe", "-y"],
        cwd=tmp_path, capture_output=True, text=True, timeout=1200,
        env={**os.environ, "HARBOR_TELEMETRY": "0", "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}",
             "HOME": str(tmp_path / "home"), "LOOPCTL_PROBE_HIDDEN": str(out)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (probe,) = (tmp_path / "jobs" / "probe").glob("*/agent/probe.json")
    answers = {label: (answer["rc"], answer["out"]) for label, answer in json.loads(probe.read_text()).items()}
    assert answers["cwd"] == (0, "/testbed")
    assert answers["commits"] == (0, "1")
    assert answers["tests"] == (0, "0") and answers["solution"] == (0, "0")
    assert answers["hidden"][0] != 0
    assert answers["network"][0] != 0 and answers["interfaces"] == (0, "lo")
    assert answers["packages"][0] != 0
    assert answers["workspace"] == (0, "edited")
    assert answers["tmp (read)"] == (0, "kept")
    result = json.loads(next((tmp_path / "jobs" / "probe").glob("*/result.json")).read_text())
    assert result["verifier_result"]["rewards"] == {"reward": 0.0}  # it fixed nothing


def test_tasks_harbor_cannot_carry_are_skipped_and_named(tmp_path):
    """A task without frozen pins (its image would resolve anew) or without FAIL_TO_PASS is skipped, on stderr."""
    from factories import make_task

    store = taskset.TaskSet.open(tmp_path / "ts", create=True)
    store.add(make_task(instance_id="octo__lib-000000000001", environment=taskset.EnvironmentSpec(python="3.11.7")))
    store.add(make_task(instance_id="octo__lib-000000000002", FAIL_TO_PASS=()))
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "ts"), "--format", "harbor", "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "exported 0 tasks" in result.stdout
    assert "skipped octo__lib-000000000001: no frozen requirements" in result.stderr
    assert "skipped octo__lib-000000000002: no FAIL_TO_PASS test" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dataset.toml"]


def test_a_harbor_directory_loopctl_did_not_write_is_refused_in_one_line(tmp_path):
    """--import of a task directory without loopctl's record: one `error:` line naming it, exit 2, nothing stored."""
    task_dir = tmp_path / "theirs"
    (task_dir / "tests").mkdir(parents=True)
    (task_dir / "task.toml").write_text('schema_version = "1.4"\n')
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "ts"), "--import", "--out", str(task_dir)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "not a task directory loopctl exported" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "ts").exists()
