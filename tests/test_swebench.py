"""SWE-bench 5 rows and task repositories, checked by the real swebench package; imports; bad input.

The mined sample's export is checked end to end in test_swebench_sample.py; here the rows are built
from hand-made tasks, so each rule has its own small test.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli import cli
from factories import make_task
from taskset import ExportError, TaskRecordError, TaskSet, export_jsonl, export_task_repo, read_swebench, to_swebench
from taskset.record import EnvironmentSpec

swebench = pytest.importorskip("swebench", reason="needs the loopctl[swebench] extra")
from swebench.harness.utils import load_swebench_dataset, make_test_spec  # noqa: E402
from swebench.task.checks import check_task_repo, expected_image  # noqa: E402

TEST_PATCH = (
    "diff --git a/tests/test_x.py b/tests/test_x.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_x.py\n"
    "@@ -0,0 +1,2 @@\n+def test_a():\n+    pass\n"
)
GOLD = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-A = 1\n+A = 2\n"

# A SWE-bench row as Hugging Face serves it: no loopctl fields, the lists JSON-encoded, and a
# `version` that looks like a Python version but is the repository's release.
THEIR_ROW = {
    "instance_id": "psf__requests-2317",
    "repo": "psf/requests",
    "base_commit": "b" * 40,
    "created_at": "2014-11-01T02:20:16Z",
    "patch": GOLD,
    "test_patch": TEST_PATCH,
    "problem_statement": "method = builtin_str(method) problem",
    "hints_text": "",
    "version": "2.4",
    "FAIL_TO_PASS": '["test_requests.py::RequestsTestCase::test_HTTP_200_OK_GET_ALTERNATIVE"]',
    "PASS_TO_PASS": '["test_requests.py::RequestsTestCase::test_BASICAUTH_TUPLE_HTTP_200_OK_GET"]',
    "environment_setup_commit": "c" * 40,
    "image": "swebench/sweb.eval.x86_64.psf_1776_requests-2317:latest",
    "eval_script": "#!/bin/bash\nset -uxo pipefail\n"
                   ": '>>>>> Start Test Output'\npytest -rA\n: '>>>>> End Test Output'\n",
    "log_parser": "parse_log_pytest",
    "eval_type": "pass_and_fail",
}


def sample_task(**overrides):
    values = dict(patch=GOLD, test_patch=TEST_PATCH, version="1.4.2", FAIL_TO_PASS=("tests/test_x.py::test_a",),
                  PASS_TO_PASS=("tests/test_x.py::test_b[1-2]",))
    values.update(overrides)
    return make_task(**values)


def write_set(root, *tasks):
    store = TaskSet.open(root, create=True)
    for task in tasks:
        store.add(task)
    return root


# --- rows --------------------------------------------------------------------------------------


def test_a_row_builds_swebench_5s_test_spec():
    """make_test_spec (swebench 5) reads every field it needs from our row: no KeyError 'image'."""
    spec = make_test_spec(to_swebench(sample_task()))
    assert spec.image == expected_image("octo__lib-0123456789ab")
    assert spec.log_parser == "parse_log_pytest" and spec.eval_type == "pass_and_fail"
    assert spec.FAIL_TO_PASS == ["tests/test_x.py::test_a"]
    assert spec.PASS_TO_PASS == ["tests/test_x.py::test_b[1-2]"]
    script = spec.eval_script
    # swebench inserts its exit-code capture right after our test command, inside the markers
    start, end = script.index(">>>>> Start Test Output"), script.index(">>>>> End Test Output")
    assert "python -m pytest -rA" in script[start:end] and "SWEBENCH_TEST_EXIT_CODE=$?" in script[start:end]
    assert "git apply" in script[:start] and "pytest==8.0.0" in script[:start]


def test_version_is_the_repositorys_and_python_stays_in_environment():
    """`version` is the project's release; the interpreter is only in `environment`."""
    row = to_swebench(sample_task())
    assert row["version"] == "1.4.2"
    assert row["environment"]["python"] == "3.11.7"


def test_repo_url_is_never_a_local_path(tmp_path):
    """With a public URL, the miner's clone path is not in the row; without one, repo_url is empty and the
    clone path rides along only as loopctl's own, clearly local repo_source (so the rows run here)."""
    public = to_swebench(sample_task(repo_url="https://github.com/octo/lib", repo_source=str(tmp_path / "clone")))
    assert public["repo_url"] == "https://github.com/octo/lib" and "repo_source" not in public
    assert str(tmp_path) not in json.dumps(public)
    local = to_swebench(sample_task(repo_url="", repo_source=str(tmp_path / "clone")))
    assert local["repo_url"] == "" and local["repo_source"] == str(tmp_path / "clone")


def test_an_imported_row_clones_from_its_repo_source_unless_told_otherwise(tmp_path):
    """The row's repo_source is where this machine clones from; --clone-from overrides it."""
    path = tmp_path / "rows.jsonl"
    export_jsonl([sample_task(repo_url="", repo_source="/srv/clone")], path)
    (task,) = read_swebench(path)
    assert task.repo_url == "" and task.clone_location == "/srv/clone"
    (task,) = read_swebench(path, clone_from="/elsewhere.bundle")
    assert task.clone_location == "/elsewhere.bundle"


def test_a_record_from_before_public_urls_exports_no_local_path_as_repo_url(sample_repo, tmp_path):
    """A task mined before repo_url meant the public URL (it held the clone's path): the row's repo_url is
    empty, and the task repository names no path at all: it carries the history in repo.bundle."""
    task = sample_task(repo_url=str(sample_repo), base_commit=_first_commit(sample_repo))
    row = to_swebench(task)
    assert row["repo_url"] == "" and row["repo_source"] == str(sample_repo)
    export_task_repo([task], tmp_path / "repo")
    task_dir = tmp_path / "repo" / "tasks" / task.instance_id
    assert (task_dir / "repo.bundle").is_file()
    assert "COPY repo.bundle" in (task_dir / "Dockerfile").read_text()
    texts = "".join(p.read_text(errors="replace") for p in task_dir.iterdir() if p.suffix != ".bundle")
    assert str(sample_repo) not in texts


def _first_commit(repo) -> str:
    return subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_export_loads_with_swebenchs_own_loader(tmp_path):
    """load_swebench_dataset reads the JSONL and every row builds a TestSpec."""
    out = tmp_path / "rows.jsonl"
    result = export_jsonl([sample_task()], out)
    assert result.written == 1 and not result.skipped
    (row,) = load_swebench_dataset(str(out))
    assert make_test_spec(row).instance_id == "octo__lib-0123456789ab"


def test_tests_swebench_cannot_read_back_are_skipped_and_named(tmp_path):
    """A test id with whitespace is cut by the pytest log parser: the task is skipped with the id named."""
    bad = sample_task(instance_id="octo__lib-badbadbadbad", PASS_TO_PASS=("tests/test_x.py::test_b[a b]",))
    result = export_jsonl([sample_task(), bad], tmp_path / "rows.jsonl")
    assert result.written == 1
    assert result.skipped[0][0] == "octo__lib-badbadbadbad" and "test_b[a b]" in result.skipped[0][1]


# --- import ------------------------------------------------------------------------------------


def test_their_rows_version_never_becomes_python(tmp_path):
    """A hand-written SWE-bench row keeps version 2.4 as the repository's; the interpreter is left to the date."""
    path = tmp_path / "theirs.jsonl"
    path.write_text(json.dumps(THEIR_ROW) + "\n")
    (task,) = read_swebench(path)
    assert task.version == "2.4"
    assert task.environment.python == ""  # resolved like a mined task: this interpreter, as of created_at
    assert task.created_at == "2014-11-01T02:20:16Z"
    assert task.repo_url == "https://github.com/psf/requests"
    assert task.FAIL_TO_PASS == ("test_requests.py::RequestsTestCase::test_HTTP_200_OK_GET_ALTERNATIVE",)


def test_round_trip_keeps_everything_but_the_local_path(tmp_path):
    """Export then import gives the task back; only the miner-local clone location is not carried."""
    task = sample_task(repo_source=str(tmp_path / "clone"))
    export_jsonl([task], tmp_path / "rows.jsonl")
    (back,) = read_swebench(tmp_path / "rows.jsonl")
    assert back == task.__class__(**{**task.__dict__, "repo_source": ""})
    (again,) = read_swebench(tmp_path / "rows.jsonl", clone_from="/srv/mirror.git")
    assert again.clone_location == "/srv/mirror.git"


def test_django_test_ids_are_refused_naming_the_first(tmp_path):
    """`test_name (module.Class)` is not a pytest node id: the row is refused, the id named."""
    row = dict(THEIR_ROW, instance_id="django__django-11099", repo="django/django",
               FAIL_TO_PASS='["test_ascii_validator (auth_tests.test_validators.UsernameValidatorsTests)"]')
    path = tmp_path / "django.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(TaskRecordError, match=r"django.jsonl:1.*'test_ascii_validator \(auth_tests"):
        read_swebench(path)


@pytest.mark.parametrize("kind", ["json", "parquet"])
def test_hugging_face_file_formats_load(tmp_path, kind):
    """A .json array and a .parquet file (as the Hub serves them) read like JSONL."""
    path = tmp_path / f"theirs.{kind}"
    rows = [THEIR_ROW, dict(THEIR_ROW, instance_id="psf__requests-2318", version="2.5")]
    if kind == "json":
        path.write_text(json.dumps(rows))
    else:
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    tasks = read_swebench(path)
    assert [(t.instance_id, t.version) for t in tasks] == [("psf__requests-2317", "2.4"), ("psf__requests-2318", "2.5")]


def test_import_is_all_or_nothing(tmp_path):
    """Line 4 malformed: the error names it and not one task is written."""
    rows = [json.dumps(dict(THEIR_ROW, instance_id=f"psf__requests-{n}")) for n in range(3)] + ["{not json"]
    path = tmp_path / "theirs.jsonl"
    path.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "ts"), "--import", "--out", str(path)])
    assert result.exit_code == 2
    assert "theirs.jsonl:4" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "ts" / "tasks").exists()


def test_cli_round_trip(tmp_path):
    """`loopctl export` writes rows; `--import` reads them back into a task set."""
    write_set(tmp_path / "ts", sample_task())
    out = tmp_path / "x.jsonl"
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "ts"), "--format", "swebench", "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "back"), "--out", str(out), "--import"])
    assert result.exit_code == 0, result.output
    assert TaskSet.open(tmp_path / "back")[sample_task().instance_id].version == "1.4.2"


# --- task repository ---------------------------------------------------------------------------


def test_task_repo_passes_swebenchs_checks(tmp_path):
    """check_task_repo finds no problem; the repo's instances build TestSpecs; the image name is the derived one."""
    from swebench.task.repo import load_task_repo

    task = sample_task(repo_url="https://github.com/octo/lib")
    export_task_repo([task], tmp_path / "repo")
    assert check_task_repo(tmp_path / "repo") == []
    (instance,) = load_task_repo(tmp_path / "repo")
    assert make_test_spec(instance).image == expected_image(task.instance_id)
    task_dir = tmp_path / "repo" / "tasks" / task.instance_id
    dockerfile = (task_dir / "Dockerfile").read_text()
    assert dockerfile.splitlines()[1] == "FROM python:3.11.7-slim"
    assert "git clone --quiet https://github.com/octo/lib /testbed" in dockerfile
    assert f"git checkout --quiet --detach {task.base_commit}" in dockerfile
    assert (task_dir / "requirements.txt").read_text() == "pytest==8.0.0\n"
    assert json.loads((task_dir / "tests.json").read_text())["FAIL_TO_PASS"] == ["tests/test_x.py::test_a"]
    assert (task_dir / "gold.patch").read_text() == GOLD


def test_an_imported_task_without_pins_resolves_as_of_its_date(tmp_path):
    """No frozen pins: the image resolves the project and pytest as of the task's date, on a dated interpreter."""
    task = sample_task(repo_url="https://github.com/octo/lib", environment=EnvironmentSpec(python="3.12.1"))
    export_task_repo([task], tmp_path / "repo")
    dockerfile = (tmp_path / "repo" / "tasks" / task.instance_id / "Dockerfile").read_text()
    assert "FROM python:3.12.1-slim" in dockerfile
    assert "--exclude-newer 2024-03-01" in dockerfile
    assert check_task_repo(tmp_path / "repo") == []


def test_a_second_export_replaces_the_first_whole(tmp_path):
    """Re-exporting a task repo leaves exactly the new tasks (no stale task directory) and no temporaries."""
    (tmp_path / "out").mkdir()
    export_task_repo([sample_task(repo_url="https://x.invalid/a"), sample_task(instance_id="octo__lib-000000000002",
                                                                              repo_url="https://x.invalid/a")],
                     tmp_path / "out" / "repo")
    export_task_repo([sample_task(repo_url="https://x.invalid/a")], tmp_path / "out" / "repo")
    assert sorted(p.name for p in (tmp_path / "out" / "repo" / "tasks").iterdir()) == ["octo__lib-0123456789ab"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["repo"]


def test_a_directory_that_is_not_a_task_repo_is_never_replaced(tmp_path):
    """--out pointing at someone's files is refused before anything is written."""
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("years of work")
    with pytest.raises(ExportError, match="not a task repository"):
        export_task_repo([sample_task()], tmp_path / "precious")
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "years of work"


# --- bad input: one line, exit 2, nothing half-written ----------------------------------------


def _bad_inputs(tmp_path):
    write_set(tmp_path / "ts", sample_task())
    (tmp_path / "adir").mkdir()
    (tmp_path / "binary.jsonl").write_bytes(bytes(range(256)) * 4)
    ts = str(tmp_path / "ts")
    return {
        "out is a directory": (["export", ts, "--out", str(tmp_path / "adir")], "is a directory"),
        "out has no parent": (["export", ts, "--out", str(tmp_path / "no" / "such" / "x.jsonl")], "no such directory"),
        "repo out is a file": (["export", ts, "--format", "swebench-repo", "--out", str(tmp_path / "binary.jsonl")],
                               "not a directory"),
        "import of a missing file": (["export", str(tmp_path / "n"), "--import", "--out", str(tmp_path / "x.jsonl")],
                                     "no such file"),
        "import of a binary file": (
            ["export", str(tmp_path / "n"), "--import", "--out", str(tmp_path / "binary.jsonl")], "not UTF-8"),
        "import of an unknown suffix": (
            ["export", str(tmp_path / "n"), "--import", "--out", ts], "unknown dataset format"),
        "missing task set": (
            ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "o.jsonl")], "no such task set"),
    }


@pytest.mark.parametrize("case", ["out is a directory", "out has no parent", "repo out is a file",
                                  "import of a missing file", "import of a binary file", "import of an unknown suffix",
                                  "missing task set"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, case):
    """Every bad input to export is one `error:` line, exit 2, no traceback, nothing written."""
    args, message = _bad_inputs(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def _loopctl(*args: str, **popen) -> subprocess.CompletedProcess:
    """The real console entry point in a child process (for real file systems and real limits)."""
    code = "import sys; from cli import main; sys.argv[0] = 'loopctl'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, **popen)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a read-only mount")
def test_a_read_only_destination_is_one_line(tmp_path):
    """--out on a read-only file system (a real read-only bind mount): one line, exit 2, nothing written."""
    write_set(tmp_path / "ts", sample_task())
    (tmp_path / "ro").mkdir()
    probe = subprocess.run(["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(tmp_path / "ro"), str(tmp_path / "ro"),
                            "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"bubblewrap cannot mount here: {probe.stderr.decode(errors='replace').strip()}")
    code = "import sys; from cli import main; sys.argv[0] = 'loopctl'; main()"
    for fmt, out in (("swebench", "x.jsonl"), ("swebench-repo", "repo")):
        done = subprocess.run(["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(tmp_path / "ro"), str(tmp_path / "ro"),
                               sys.executable, "-c", code, "export", str(tmp_path / "ts"), "--format", fmt,
                               "--out", str(tmp_path / "ro" / out)], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.dirname(__file__)))
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == f"error: {tmp_path / 'ro'}: not writable"
    assert list((tmp_path / "ro").iterdir()) == []


def _file_size_limit(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("fmt,out", [("swebench", "rows.jsonl"), ("swebench-repo", "repo")])
def test_a_full_disk_keeps_the_previous_export(tmp_path, fmt, out):
    """A write that fails midway (a file-size limit stands in for a full disk) leaves the last good export as it was."""
    write_set(tmp_path / "ts", sample_task(repo_url="https://x.invalid/a"))
    root = os.path.dirname(os.path.dirname(__file__))
    good = _loopctl("export", str(tmp_path / "ts"), "--format", fmt, "--out", str(tmp_path / out), cwd=root)
    assert good.returncode == 0, good.stderr
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / out).rglob("*") if p.is_file()} \
        if fmt == "swebench-repo" else {out: (tmp_path / out).read_bytes()}
    write_set(tmp_path / "ts", sample_task(problem_statement="x" * 50_000, repo_url="https://x.invalid/a"))
    done = _loopctl("export", str(tmp_path / "ts"), "--format", fmt, "--out", str(tmp_path / out), cwd=root,
                    preexec_fn=_file_size_limit(20_000))
    assert done.returncode == 2, done.stderr
    assert "previous export is unchanged" in done.stderr and "Traceback" not in done.stderr
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / out).rglob("*") if p.is_file()} \
        if fmt == "swebench-repo" else {out: (tmp_path / out).read_bytes()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["gitconfig", "home", "ts", out])  # no temporaries


def test_parquet_export_carries_loopctls_own_fields_and_reads_back(tmp_path):
    """Regression: pyarrow could not write the rows of a task with loopctl's fields (an empty
    ``calibration.tier_passes`` is a struct with no child). `export --out FILE.parquet` writes them as
    JSON text; the file loads with pyarrow and imports back to the same tasks."""
    import dataclasses

    pq = pytest.importorskip("pyarrow.parquet")
    plain = sample_task()  # never labelled: its tier_passes (and flake rates) are empty
    plain = dataclasses.replace(plain, calibration=dataclasses.replace(plain.calibration, tier_passes={},
                                                                       flake_rates={}))
    labelled = sample_task(instance_id="owner__proj-bbbbbbbbbbbb")
    labelled = dataclasses.replace(labelled, calibration=dataclasses.replace(
        labelled.calibration, tier_passes={"local": (1, 2)}, durations={"tests/test_a.py::test_a": 0.5}))
    write_set(tmp_path / "ts", plain, labelled)
    out = tmp_path / "rows.parquet"
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "ts"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 2
    back = {t.instance_id: t for t in read_swebench(out)}
    for task in (plain, labelled):
        assert back[task.instance_id] == dataclasses.replace(task, repo_source="")
