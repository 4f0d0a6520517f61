"""``mine`` under bad input, a busy output directory and a failing machine: one line, a clear exit
code, nothing half-written, nothing recorded as a verdict that was not one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from miner.ledger import Ledger
from taskset.env.buildfailure import infrastructure
from taskset.errors import InfraCause
from taskset.files import dirlock

ROOT = Path(__file__).resolve().parents[1]


def _mine(*args: str):
    return CliRunner().invoke(cli, ["mine", *args])


def _one_line(result, needle: str, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def tiny(make_repo):
    repo = make_repo()
    repo.commit("Initial", {"pkg/calc.py": "X = 1\n", "tests/test_calc.py": "def test_x():\n    pass\n"},
                date="2024-01-01T12:00:00+00:00")
    repo.commit("Second", {"pkg/calc.py": "X = 2\n"}, date="2024-02-01T12:00:00+00:00")
    return repo


BAD_INPUT = {
    # name: (extra args, env, expected text in the one line)
    "--since after --until (dates)": (["--since", "2024-03-01", "--until", "2024-01-01"], {}, "is after --until"),
    "--since after --until (revisions)": (["--since", "HEAD", "--until", "HEAD~1"], {}, "is after --until"),
    "--out is an existing file": (["--out", "{tmp}/afile"], {}, "exists and is not a directory"),
    "--out on a file system that refuses writes": (["--out", "/proc/loopctl-nope/ts"], {}, "cannot write"),
    "LOOPCTL_CACHE is a file": ([], {"LOOPCTL_CACHE": "{tmp}/afile"}, "LOOPCTL_CACHE"),
    "LOOPCTL_CACHE under a parent that refuses writes": ([], {"LOOPCTL_CACHE": "/proc/loopctl-cache"}, "LOOPCTL_CACHE"),
    "--python that does not exist": (["--python", "python9.9"], {}, "--python python9.9"),
}


@pytest.mark.parametrize("name", list(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_before_any_work(tiny, tmp_path, monkeypatch, name):
    """Every bad input is refused with one line and exit 2, before the output directory exists."""
    args, env, needle = BAD_INPUT[name]
    (tmp_path / "afile").write_text("x")
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    args = [a.format(tmp=tmp_path) for a in args]
    out = tmp_path / "ts"
    if "--out" not in args:
        args += ["--out", str(out)]
    _one_line(_mine("--repo", str(tiny.path), *args), needle)
    assert not out.exists()


def test_unclonable_url_names_what_git_said(tmp_path):
    """file:///nope.git says what is wrong, not the tail of git's advice ("and the repository exists.")."""
    line = _one_line(_mine("--repo", "file://" + str(tmp_path / "nope.git"), "--out", str(tmp_path / "ts")),
                     "cannot clone")
    assert "does not appear to be a git repository" in line


def test_a_second_mine_into_a_busy_directory_is_refused(tiny, tmp_path):
    """One writer per output directory: while a real process holds ``--out``, mine refuses at once."""
    out = tmp_path / "ts"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom taskset.files import dirlock\n"
         "with dirlock.exclusive(sys.argv[1], doing='mine'):\n    print('held', flush=True)\n    time.sleep(600)\n",
         str(out)],
        stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        line = _one_line(_mine("--repo", str(tiny.path), "--out", str(out)), "in use by mine")
        assert f"pid {holder.pid}" in line
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert not (out / "rejections.jsonl").exists()


def test_stale_temporaries_are_reclaimed_under_the_lock(tiny, tmp_path):
    """A task file a killed run left half-written (``tasks/.x.json.123.tmp``) is removed by the next run."""
    out = tmp_path / "ts"
    (out / "tasks").mkdir(parents=True)
    stale = out / "tasks" / ".octo__x-0123.json.4242.tmp"
    stale.write_text("{")
    result = _mine("--repo", str(tiny.path), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    with dirlock.exclusive(out):  # and the lock was released
        pass


@pytest.mark.parametrize(
    ("output", "cause"),
    [
        ("error: Failed to fetch: `https://pypi.org/simple/six/`\n  Caused by: dns error: failed to lookup address",
         InfraCause.NETWORK),
        ("error: Request failed after 3 retries\n  Caused by: tcp connect error: Connection refused (os error 111)",
         InfraCause.NETWORK),
        ("error: failed to write to file `/cache/x`: No space left on device (os error 28)", InfraCause.DISK),
        ("error: No interpreter found at path `/usr/bin/python9.9`", InfraCause.INTERPRETER),
        ("error: Failed to build `x @ file:///t`\n  Caused by: The build backend returned an error", None),
        ("  × No solution found when resolving dependencies:\n"
         "  ╰─▶ Because nosuchpkg was not found in the package registry", None),
    ],
)
def test_installer_output_is_classified_machine_or_project(output, cause):
    """The index unreachable, the disk full, the interpreter gone: the machine. A build or a
    resolution that fails: the project (a deterministic install-failed)."""
    assert infrastructure(output) is cause


@pytest.mark.slow
def test_an_unreachable_index_records_nothing_and_the_next_run_retries(make_repo, tmp_path, monkeypatch):
    """With the package index unreachable, mine says so, exits 3 and records no rejection; the same
    candidate is validated by the next run once the index is back."""
    repo = make_repo()
    repo.commit("Initial", {"pyproject.toml": PYPROJECT, "calc.py": "def f():\n    return 1\n",
                            "tests/test_calc.py": "import calc\n\ndef test_f():\n    assert calc.f() == 2\n"})
    repo.commit("Fix f", {"calc.py": "def f():\n    return 2\n", "tests/test_calc.py":
                          "import calc\n\ndef test_f():\n    assert calc.f() == 2\n\n"
                          "def test_g():\n    assert calc.f()\n"})
    out = tmp_path / "ts"
    monkeypatch.setenv("LOOPCTL_CACHE", str(tmp_path / "cold-cache"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "cold-uv"))
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")  # the discard port: refused
    result = CliRunner().invoke(cli, ["mine", "--repo", str(repo.path), "--out", str(out), "--json"])
    assert result.exit_code == 3, result.output
    assert "the machine failed" in result.stderr and "rerun" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["postponed"] == 1 and summary["validated"] == 0
    recorded = [json.loads(line)["reason"] for line in (out / "rejections.jsonl").read_text().splitlines()]
    assert "install-failed" not in recorded and recorded == ["not-a-candidate"]
    fix = repo.git("rev-parse", "HEAD")
    assert fix not in Ledger(out).known  # the next run validates it again


PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
             '[project]\nname = "calc"\nversion = "0.1"\n[tool.setuptools]\npy-modules = ["calc"]\n')
