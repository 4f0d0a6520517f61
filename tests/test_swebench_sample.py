"""The mined sample, exported for SWE-bench 5 and judged by the real swebench package.

swebench builds every row's TestSpec and passes the task repository; the eval script's test command
runs for real on every task (gold patch: resolved; no patch: not) and swebench's own log parser
and grading read the log. One task's whole eval.sh runs in a clone made from its repo.bundle, as
the Dockerfile makes it; where a Docker daemon answers, one image is built and graded too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

import taskset
from cli import cli
from taskset.env.environment import environment_for
from taskset.interop.swebench_eval import PINS_FILE
from taskset.workspace.workspace import Workspace

swebench = pytest.importorskip("swebench", reason="needs the loopctl[swebench] extra")
from swebench.harness.constants import TEST_EXIT_CODE  # noqa: E402
from swebench.harness.grading import get_eval_report  # noqa: E402
from swebench.harness.utils import load_swebench_dataset, make_test_spec  # noqa: E402
from swebench.task.checks import check_task_repo  # noqa: E402
from swebench.task.repo import load_task_repo  # noqa: E402

pytestmark = pytest.mark.slow  # runs the sample's tasks in their environments


@pytest.fixture(scope="module")
def exported(mined_sample, tmp_path_factory):
    """The sample exported both ways: (rows.jsonl, task repo dir, the task set)."""
    out = tmp_path_factory.mktemp("swebench-export")
    for fmt, dest in (("swebench", out / "rows.jsonl"), ("swebench-repo", out / "repo")):
        result = CliRunner().invoke(cli, ["export", str(mined_sample[0]), "--format", fmt, "--out", str(dest)])
        assert result.exit_code == 0, result.output
        assert "exported 6 tasks" in result.output
    return out / "rows.jsonl", out / "repo", taskset.load(mined_sample[0])


def test_every_row_builds_a_test_spec(exported):
    """swebench's loader reads the export and make_test_spec builds every row; version is the project's."""
    rows = load_swebench_dataset(str(exported[0]))
    specs = [make_test_spec(row) for row in rows]
    assert len(specs) == 6
    assert {spec.version for spec in specs} == {"0.1.0"}  # calclib's pyproject at every base commit
    assert all(row["environment"]["python"].startswith("3.") for row in rows)  # Python stays in environment
    # no public home: repo_url stays empty; the clone it was mined from rides along as loopctl's repo_source
    assert all(row["repo_url"] == "" and row["repo_source"] == exported[2][row["instance_id"]].repo_source
               for row in rows)


def test_the_task_repo_passes_check_task_repo(exported):
    """check_task_repo reports nothing; every task of the repo builds a TestSpec naming the derived image."""
    _, repo, tasks = exported
    assert [str(p) for p in check_task_repo(repo)] == []
    instances = load_task_repo(repo)
    assert sorted(i["instance_id"] for i in instances) == tasks.ids
    for instance in instances:
        task_dir = repo / "tasks" / instance["instance_id"]
        assert make_test_spec(instance).image == instance["image"]
        assert "repo_source" not in instance  # a task repository names no path of this machine
        assert (task_dir / "Dockerfile").read_text().splitlines()[1].startswith("FROM python:3.")
        assert (task_dir / "repo.bundle").is_file()  # no public URL: the history travels with the task


def _test_part(spec) -> str:
    """The eval script from its first ``export`` through the exit-code echo: environment, markers, test command."""
    lines = spec.eval_script_list
    first = next(i for i, line in enumerate(lines) if line.startswith("export "))
    last = next(i for i, line in enumerate(lines) if line.startswith(f'echo "{TEST_EXIT_CODE}'))
    return "\n".join(["set -uxo pipefail", *lines[first : last + 1]]) + "\n"


def _run_script(script: str, cwd: Path, python_bin: Path, log: Path) -> None:
    """Run a bash script as the harness does (stdout and stderr in one log), ``python`` from ``python_bin``."""
    env = {"PATH": f"{python_bin}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ["HOME"],
           "GIT_CONFIG_GLOBAL": os.environ["GIT_CONFIG_GLOBAL"]}
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log.write_bytes(done.stdout)


def _grade(spec, log: Path, patch: str) -> dict:
    prediction = {"instance_id": spec.instance_id, "model_patch": patch, "model_name_or_path": "loopctl-test"}
    return get_eval_report(spec, prediction, str(log), include_tests_status=True)[spec.instance_id]


def test_swebench_grades_every_sample_task_from_a_real_pytest_log(exported, tmp_path):
    """The eval's test command runs in each task's environment; swebench's parser and grading read the log:
    the gold patch resolves every task, the unchanged code resolves none."""
    rows, _, tasks = exported
    for row in load_swebench_dataset(str(rows)):
        spec = make_test_spec(row)
        task = tasks[spec.instance_id]
        with Workspace.for_task(task) as ws:
            env = environment_for(task, ws.path)
            script = _test_part(spec).replace("/testbed", str(ws.path))
            for patch, expected in (("", False), (task.patch, True)):  # the buggy code, then the gold patch
                if patch:
                    ws.apply_patch(patch, what="gold patch")
                log = tmp_path / f"{spec.instance_id}-{expected}.log"
                _run_script(script, ws.path, env.python.parent, log)
                report = _grade(spec, log, patch or "diff")
                assert report["patch_successfully_applied"], log.read_text()
                assert report["resolved"] is expected, (spec.instance_id, report["tests_status"])
                if not expected:
                    assert report["tests_status"]["FAIL_TO_PASS"]["failure"] == list(task.FAIL_TO_PASS)
                    assert report["tests_status"]["PASS_TO_PASS"]["failure"] == []


def test_a_whole_eval_script_runs_in_a_clone_of_the_bundle(exported, tmp_path):
    """As the image would: the bundle is cloned and cut at base_commit, the gold patch applied, eval.sh run
    (pins reinstalled, test files restored, test patch applied); swebench grades the log resolved."""
    _, repo, tasks = exported
    instance_id = "local__calclib-b1d63087a8ec"  # its test patch adds a conftest.py and a data file
    task, task_dir = tasks[instance_id], repo / "tasks" / instance_id
    testbed = tmp_path / "testbed"
    subprocess.run(["git", "clone", "--quiet", str(task_dir / "repo.bundle"), str(testbed)], check=True)
    tips = subprocess.run(["git", "log", "--all", "--format=%H"], cwd=testbed, capture_output=True, text=True,
                          check=True).stdout.split()
    assert tips[0] == task.base_commit and task.fix_commit not in tips  # no future in the image
    subprocess.run(["git", "apply", "-"], cwd=testbed, input=task.patch.encode(), check=True)  # the harness's step
    scratch = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(scratch)  # the image's python: pip present, nothing else installed
    (instance,) = load_task_repo(repo, [instance_id])
    spec = make_test_spec(instance)
    log = tmp_path / "eval.log"
    script = spec.eval_script.replace(PINS_FILE, str(tmp_path / "pins.txt")).replace("/testbed", str(testbed))
    _run_script(script, testbed, scratch / "bin", log)
    text = log.read_text()
    assert re.search(r"PASSED tests/test_units.py::test_parse_size_table", text), text[-3000:]
    assert _grade(spec, log, task.patch)["resolved"], text[-3000:]
    # the script put the test files back as base_commit has them: the added conftest.py is gone again
    assert not (testbed / "tests" / "conftest.py").exists()


def _docker_unavailable() -> str:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if done.returncode != 0:
        return "Docker daemon not reachable: " + (done.stderr.strip().splitlines() or ["docker info failed"])[-1]
    return ""


@pytest.mark.skipif(bool(_docker_unavailable()), reason=_docker_unavailable() or "docker available")
def test_one_image_builds_and_its_eval_script_resolves_the_gold_patch(exported, tmp_path):
    """Where Docker runs: build one task's image from its Dockerfile, apply the gold patch, run eval.sh, grade."""
    _, repo, tasks = exported
    instance_id = "local__calclib-b1d63087a8ec"
    (instance,) = load_task_repo(repo, [instance_id])
    spec = make_test_spec(instance)
    task_dir = repo / "tasks" / instance_id
    subprocess.run(["docker", "build", "--quiet", "--tag", spec.image, str(task_dir)], check=True)
    try:
        (tmp_path / "gold.patch").write_text(tasks[instance_id].patch)
        (tmp_path / "eval.sh").write_text(spec.eval_script)
        done = subprocess.run(["docker", "run", "--rm", "-v", f"{tmp_path}:/work:ro", spec.image, "bash", "-c",
                               "git apply /work/gold.patch && bash /work/eval.sh"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log = tmp_path / "test_output.txt"
        log.write_bytes(done.stdout)
        assert _grade(spec, log, tasks[instance_id].patch)["resolved"], done.stdout.decode(errors="replace")[-3000:]
    finally:
        subprocess.run(["docker", "image", "rm", "--force", spec.image], capture_output=True)

