"""``mine --repos FILE``: several repositories into one task set, one funnel each and a total.

Two small real repositories (the same dependency files, so one environment serves both), each
with one genuine fix and one commit that touches no test. The merged task set must be exactly
the union of mining each alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from conftest import write_minimal_project
from test_harness_server import BUGGY, FIXED, TEST_BASE, TEST_FIX

pytestmark = pytest.mark.slow  # builds one environment from the package index


def build_two_repos(make_repo) -> dict[str, tuple[Path, str]]:
    """Repositories ``alpha`` and ``beta``: name -> (path, sha of its genuine fix)."""
    made = {}
    for name in ("alpha", "beta"):
        repo = make_repo(name)
        write_minimal_project(repo.path)
        header = f"# {name}\n"
        repo.commit("calc: add and mul", {"calc.py": header + BUGGY, "tests/test_calc.py": TEST_BASE})
        fix = repo.commit(f"Fix add returning the difference in {name} (#1)",
                          {"calc.py": header + FIXED, "tests/test_calc.py": TEST_FIX})
        repo.commit("Tidy calc", {"calc.py": header + FIXED + "\n"})
        made[name] = (repo.path, fix)
    return made


def mine(*args: str):
    return CliRunner().invoke(cli, ["mine", *args, "--json"], catch_exceptions=False)


def tasks_of(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "tasks").glob("*.json"))}


def test_repos_merge_two_repositories_into_one_task_set_with_a_funnel_each(make_repo, tmp_path):
    """Each repository is walked once and funnelled as if mined alone; the set is the union of both."""
    repos = build_two_repos(make_repo)
    listing = tmp_path / "lists" / "mine.txt"
    listing.parent.mkdir()
    # relative paths are relative to the file; the same repository named twice is mined once
    listing.write_text(f"# two repositories\n../alpha\n\n{repos['beta'][0]}\n{repos['alpha'][0]}/\n")
    out = tmp_path / "merged"
    done = mine("--repos", str(listing), "--out", str(out))
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert "the same repository as" in done.output, done.output
    parts = {part["repo"]: part for part in summary["repositories"]}
    assert sorted(parts) == ["local/alpha", "local/beta"]
    for name, (_, fix) in repos.items():
        part = parts[f"local/{name}"]
        assert (part["commits_walked"], part["candidates"], part["validated"], part["tasks"]) == (3, 1, 1, 1)
        assert (out / "tasks" / f"local__{name}-{fix[:12]}.json").is_file()
    assert (summary["commits_walked"], summary["tasks"], summary["validated"]) == (6, 2, 2)
    assert summary["rejected"] == sum(part["rejected"] for part in parts.values()) > 0

    alone = {}
    for name, (path, _) in repos.items():
        done = mine("--repo", str(path), "--out", str(tmp_path / f"alone-{name}"))
        assert done.exit_code == 0, done.output
        alone.update(tasks_of(tmp_path / f"alone-{name}"))
    assert tasks_of(out) == alone

    again = mine("--repos", str(listing), "--out", str(out))
    assert again.exit_code == 0, again.output
    total = json.loads(again.stdout)
    assert (total["validated"], total["skipped"], total["tasks"]) == (0, 2, 2)


def test_repos_text_shows_each_funnel_and_the_total(make_repo, tmp_path, monkeypatch):
    """Without --json: a funnel per repository, then the total; --out defaults to ./<list name>-tasks."""
    monkeypatch.chdir(tmp_path)
    repos = build_two_repos(make_repo)
    listing = tmp_path / "pair.txt"
    listing.write_text("".join(f"{path}\n" for path, _ in repos.values()))
    done = CliRunner().invoke(cli, ["mine", "--repos", str(listing), "--max-candidates", "0"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].startswith("mined 2 repositories into pair-tasks")
    assert [line.strip() for line in lines if not line.startswith("    ")][1:] == ["local/alpha", "local/beta", "total"]
    assert (tmp_path / "pair-tasks" / "rejections.jsonl").is_file()


BAD = {
    "--repo and --repos": (["--repo", "{alpha}", "--repos", "{list}"], "not both"),
    "neither": ([], "nothing to mine"),
    "a missing list": (["--repos", "{tmp}/nope.txt"], "cannot be read"),
    "an empty list": (["--repos", "{empty}"], "names no repository"),
    "--commit with several": (["--repos", "{list}", "--commit", "HEAD"], "--commit"),
    "--name with several": (["--repos", "{list}", "--name", "a/b"], "--name"),
    "a listed path that is not a repository": (["--repos", "{badlist}"], "not-a-repo"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_repos_input_is_one_line_exit_2_and_writes_nothing(make_repo, tmp_path, monkeypatch, case):
    """Every refusal is one line, exit 2, before the output directory exists."""
    monkeypatch.chdir(tmp_path)
    alpha = make_repo("alpha")
    alpha.commit("Initial", {"calc.py": "X = 1\n", "tests/test_calc.py": "def test_x():\n    pass\n"})
    beta = make_repo("beta")
    beta.commit("Initial", {"calc.py": "X = 2\n", "tests/test_calc.py": "def test_x():\n    pass\n"})
    (tmp_path / "list.txt").write_text(f"{alpha.path}\n{beta.path}\n")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    (tmp_path / "not-a-repo").mkdir()
    (tmp_path / "bad.txt").write_text(f"{alpha.path}\nnot-a-repo\n")
    names = {"alpha": alpha.path, "list": tmp_path / "list.txt", "tmp": tmp_path, "empty": tmp_path / "empty.txt",
             "badlist": tmp_path / "bad.txt"}
    args, needle = BAD[case]
    out = tmp_path / "out"
    done = CliRunner().invoke(cli, ["mine", *[a.format(**names) for a in args], "--out", str(out)])
    assert done.exit_code == 2, done.output
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], done.output
    assert not out.exists()
