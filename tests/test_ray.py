"""``--backend ray``: the local pool's units as Ray tasks, on the session's 2-CPU local cluster.

Skipped when Ray is not installed (it is the ``loopctl[ray]`` extra; CI installs it). The
cluster starts once per session (``ray_cluster`` in conftest.py). Every comparison is with what
the local pool does on the same work: the same task set, the same calibration verdicts. No test
waits for a time: units that must still be running when the driver stops wait for a file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("ray")

from cli import cli  # noqa: E402
from taskset.jobs.raypool import run_each  # noqa: E402

pytestmark = pytest.mark.ray


# --- units (module level: Ray workers import this module by name, tests/ is on their path) ---

def times_ten_dying_once(item: tuple[int, str]) -> int:
    """``value * 10``; the first time it sees value 2 its worker dies mid-unit (as the OOM killer would)."""
    value, marker = item
    if value == 2 and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    return value * 10


def fails_on_three(value: int) -> int:
    """A unit that raises for 3."""
    if value == 3:
        raise ValueError("three is not allowed")
    return value


def quick_or_held(item: tuple[str, str]) -> str:
    """``quick`` returns at once; ``held`` says it started, then waits until interrupted and says it cleaned up."""
    name, where = item
    if name == "quick":
        return name
    try:
        # inside the try: the file exists as soon as touch() opens it, and the driver may
        # interrupt before touch() returns, which must still reach the cleanup
        Path(where, "started").touch()
        while True:
            time.sleep(0.05)
    finally:
        Path(where, "cleaned").touch()


def test_every_result_reaches_the_driver_once_and_a_dead_worker_has_its_unit_run_again(ray_cluster, tmp_path):
    """A worker that dies mid-unit is replaced and the unit rerun; the driver sees one result per unit."""
    marker = tmp_path / "died"
    seen: list[tuple[int, int]] = []
    run_each(times_ten_dying_once, [(i, str(marker)) for i in range(5)], lambda item, r: seen.append((item[0], r)))
    assert marker.exists(), "the worker was meant to die once"
    assert sorted(seen) == [(i, i * 10) for i in range(5)]


def test_a_unit_error_is_raised_as_itself(ray_cluster):
    """An exception raised by a unit reaches the driver as the same exception, as with the local pool."""
    handed: list[int] = []
    with pytest.raises(ValueError, match="three is not allowed"):
        run_each(fails_on_three, range(6), lambda item, r: handed.append(r), jobs=1)
    assert handed == [0, 1, 2]  # one in flight at a time: everything before the failure was handed over


def test_a_stop_interrupts_running_units_which_clean_up(ray_cluster, tmp_path):
    """The driver stopping (here on_result raises Ctrl-C) cancels the running unit: it is interrupted inside."""
    def save(item, result):
        while not (tmp_path / "started").exists():  # the held unit is running: now stop
            time.sleep(0.05)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_each(quick_or_held, [("quick", str(tmp_path)), ("held", str(tmp_path))], save)
    assert (tmp_path / "cleaned").exists(), "the interrupted unit's cleanup ran before run_each returned"


# --- the commands ---------------------------------------------------------------------------

_WORKSPACE = re.compile(r"/tmp/loopctl-ws-\d+-\w+|\.[0-9a-f]{32}\.\d+\.tmp")


def _stable(text: str) -> str:
    """Output with the run's temporary names (workspace folders, temporary files) blanked out.

    Every run, local or not, validates in freshly named temporary folders, and pytest's messages
    name them: two local runs differ there too.
    """
    return _WORKSPACE.sub("<tmp>", text)


def task_files(root: Path) -> dict[str, dict]:
    """Every task of a task set as its JSON, temporary names blanked."""
    return {p.name: json.loads(_stable(p.read_text())) for p in sorted((root / "tasks").glob("*.json"))}


def rejection_lines(root: Path) -> list[dict]:
    """rejections.jsonl, sorted, temporary names blanked, whitespace collapsed in the details.

    The installer wraps its messages to a width it guesses from where it runs (a worker under
    pytest, a Ray worker): the same words, other line breaks.
    """
    rows = [json.loads(_stable(line)) for line in (root / "rejections.jsonl").read_text().splitlines()]
    for row in rows:
        row["detail"] = " ".join(row.get("detail", "").split())
    return sorted(rows, key=lambda r: (r["fix_commit"], r["reason"]))


def test_mine_on_ray_yields_exactly_the_task_set_of_jobs_2(ray_cluster, mined_sample, sample_repo, tmp_path):
    """`mine --backend ray` on the sample: the same tasks, field for field, and the same rejections as `--jobs 2`."""
    local, local_summary = mined_sample
    out = tmp_path / "ray-ts"
    done = CliRunner().invoke(cli, ["mine", "--repo", str(sample_repo), "--out", str(out), "--backend", "ray",
                                    "--json"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    ours, theirs = task_files(out), task_files(local)
    assert sorted(ours) == sorted(theirs), (summary, local_summary)
    for name in ours:
        assert ours[name] == theirs[name], name
    assert rejection_lines(out) == rejection_lines(local)
    same = ("commits_walked", "candidates", "validated", "tasks", "rejections", "postponed")
    assert {k: summary[k] for k in same} == {k: local_summary[k] for k in same}


def test_mine_repos_on_ray_yields_the_local_pools_merged_set(ray_cluster, make_repo, tmp_path):
    """`mine --repos` on either backend: the same merged task set and the same funnel per repository."""
    from test_mine_repos import build_two_repos

    repos = build_two_repos(make_repo)
    listing = tmp_path / "repos.txt"
    listing.write_text("".join(f"{path}\n" for path, _ in repos.values()))
    found = {}
    for backend in ("local", "ray"):
        out = tmp_path / backend
        done = CliRunner().invoke(cli, ["mine", "--repos", str(listing), "--out", str(out), "--backend", backend,
                                        "--jobs", "2", "--json"], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        funnels = [{k: part[k] for k in ("repo", "commits_walked", "candidates", "tasks", "rejections")}
                   for part in json.loads(done.stdout)["repositories"]]
        found[backend] = (task_files(out), rejection_lines(out), funnels)
    assert found["ray"] == found["local"]
    assert len(found["ray"][0]) == 2


def _verdicts(root: Path, ids: list[str]) -> dict[str, tuple]:
    """Each task's calibration verdict, without the timings (which no two runs share)."""
    out = {}
    for task_id in ids:
        c = json.loads((root / "tasks" / f"{task_id}.json").read_text())["calibration"]
        out[task_id] = (c["status"], c["reason"], c["runs"], c["flaky_tests"], c["flake_rates"],
                        sorted(c["durations"]), c["difficulty"])
    return out


def test_calibrate_on_ray_reaches_the_local_pools_verdicts(ray_cluster, mined_sample, tmp_path):
    """Two sample tasks calibrated on Ray and on the local pool: the same statuses, reasons and flaky tests."""
    ids = sorted(p.stem for p in (mined_sample[0] / "tasks").glob("*.json"))[:2]
    verdicts = {}
    for backend in ("local", "ray"):
        root = tmp_path / backend
        shutil.copytree(mined_sample[0], root)
        jobs = ["--jobs", "2"] if backend == "local" else []  # Ray: the cluster's 2 CPUs by default
        done = CliRunner().invoke(cli, ["calibrate", str(root), "--runs", "1", "--task-ids", ",".join(ids),
                                        "--backend", backend, "--json", *jobs], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        verdicts[backend] = _verdicts(root, ids)
    assert verdicts["ray"] == verdicts["local"]
    assert all(v[0] == "ok" for v in verdicts["ray"].values()), verdicts
