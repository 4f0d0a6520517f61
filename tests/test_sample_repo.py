"""The shipped sample repository is what its builder claims, proven with plain git and pytest.

Independent of the miner on purpose: if the miner and these tests disagree about a commit, the
sample's claim was checked here by hand, so the miner is the one to look at.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import SAMPLE_BUILDER, load_sample_builder

SAMPLE = load_sample_builder()
DECOY_BY_KIND = {d["kind"]: d for d in SAMPLE.DECOYS}
SUMMARY_LINE = re.compile(r"^(PASSED|FAILED|ERROR) (\S+)(?: - (.*))?$")


# --- helpers -----------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    """Run git in repo, return stdout."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def changed(repo: Path, sha: str) -> dict[str, str]:
    """path -> status letter (A, M, D) of the files a commit changes."""
    out = git(repo, "diff-tree", "--no-commit-id", "--name-status", "--no-renames", "-r", "--root", sha)
    return {line.split("\t")[1]: line.split("\t")[0] for line in out.splitlines()}


def export(repo: Path, sha: str, dest: Path) -> Path:
    """The tree at sha, without .git: nothing in it can reveal a later commit."""
    archive = subprocess.run(["git", "archive", sha], cwd=repo, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def overlay_tests(repo: Path, fix: str, checkout: Path) -> None:
    """Copy the fix commit's test-side files (everything under tests/) into checkout."""
    for path, status in changed(repo, fix).items():
        if not path.startswith("tests/"):
            continue
        target = checkout / path
        if status == "D":
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = subprocess.run(["git", "show", f"{fix}:{path}"], cwd=repo, capture_output=True, check=True)
        target.write_bytes(blob.stdout)


def touched_modules(repo: Path, fix: str) -> list[str]:
    """The test modules a commit adds or changes: what the miner runs."""
    return sorted(
        p for p, s in changed(repo, fix).items()
        if s != "D" and p.startswith("tests/") and Path(p).name.startswith("test_") and p.endswith(".py")
    )


@dataclass
class Run:
    """One pytest run: per-id status and message from the -rA summary, exit code, output."""

    status: dict[str, tuple[str, str]]
    code: int
    output: str

    def passed(self) -> set[str]:
        """Ids that passed."""
        return {i for i, (s, _) in self.status.items() if s == "PASSED"}


def run_pytest(checkout: Path, modules: list[str]) -> Run:
    """The host's pytest on the checkout's sources (src layout, no install), no cache, no bytecode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    # Plugins of loopctl's own venv (xdist...) have no business in the sample's runs; skipping
    # them also halves pytest's start-up.
    env.update(PYTHONPATH="src", PYTHONDONTWRITEBYTECODE="1", COLUMNS="300", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-q", "-p", "no:cacheprovider", *modules],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=60,
    )
    status = {}
    for line in done.stdout.splitlines():
        match = SUMMARY_LINE.match(line)
        if match:
            status[match.group(2)] = (match.group(1), match.group(3) or "")
    return Run(status, done.returncode, done.stdout + done.stderr)


def both_sides(repo: Path, fix: str, tmp_path: Path) -> tuple[Path, Run, Path, Run]:
    """Run the fix's touched tests on the parent (with the fix's tests) and on the fix commit."""
    modules = touched_modules(repo, fix)
    before_dir = export(repo, f"{fix}^", tmp_path / "before")
    overlay_tests(repo, fix, before_dir)
    after_dir = export(repo, fix, tmp_path / "after")
    with ThreadPoolExecutor(2) as pool:  # two independent processes: run them side by side
        before, after = pool.map(lambda d: run_pytest(d, modules), (before_dir, after_dir))
    return before_dir, before, after_dir, after


# --- the build ---------------------------------------------------------------------------------


def test_script_rebuild_gives_identical_shas(tmp_path, sample_repo, sample_commits):
    """Building twice (here via the command line, under the caller's pinned GIT_* identity and
    dates, which the builder must ignore) gives the same commits, refs and bundle heads."""
    dest, bundle = tmp_path / "again", tmp_path / "again.bundle"
    done = subprocess.run(
        [sys.executable, str(SAMPLE_BUILDER), str(dest), "--bundle", str(bundle)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    printed = dict(line.split(" ", 1)[::-1] for line in done.stdout.splitlines())
    assert printed == sample_commits
    assert git(dest, "show-ref") == git(sample_repo, "show-ref")
    heads = git(dest, "bundle", "list-heads", str(bundle))
    assert f"{sample_commits[SAMPLE.HISTORY[-1].subject]} refs/heads/main" in heads


def test_bundle_clones_to_the_same_history(tmp_path, sample_bundle, sample_commits):
    """The bundle holds every ref: a clone of it has main at the last commit and the tag."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(sample_bundle), str(clone)], check=True)
    assert git(clone, "rev-parse", "HEAD") == list(sample_commits.values())[-1]
    assert git(clone, "tag") == "v0.2.0"


def test_non_empty_destination_is_refused(tmp_path):
    """DEST with anything in it is refused with exit 2 and a message naming it."""
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    done = subprocess.run([sys.executable, str(SAMPLE_BUILDER), str(dest)], capture_output=True, text=True)
    assert done.returncode == 2
    assert str(dest) in done.stderr and "not empty" in done.stderr
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


# --- the history -------------------------------------------------------------------------------


def test_history_is_as_described(sample_repo, sample_commits):
    """Subjects in order, weekly 2024 dates, fixed identities; clean tree at main."""
    log = git(sample_repo, "log", "--reverse", "--format=%H%x00%s%x00%aI%x00%cI%x00%an%x00%cn")
    rows = [line.split("\x00") for line in log.splitlines()]
    assert [r[1] for r in rows] == [c.subject for c in SAMPLE.HISTORY]
    assert [r[0] for r in rows] == list(sample_commits.values())
    assert rows[0][2] == "2024-01-08T10:00:00+00:00"
    assert all(r[2] == r[3] and r[4] == r[5] and r[2].startswith("2024-") for r in rows)
    assert git(sample_repo, "status", "--porcelain") == ""
    assert git(sample_repo, "symbolic-ref", "--short", "HEAD") == "main"
    listed = {g["subject"] for g in SAMPLE.GENUINE} | {d["subject"] for d in SAMPLE.DECOYS}
    listed |= {o["subject"] for o in SAMPLE.ORDINARY}
    assert listed == set(sample_commits) and len(SAMPLE.GENUINE) >= 5 and len(SAMPLE.DECOYS) == 5


def _sides(paths) -> tuple[set[str], set[str], set[str]]:
    """(python source under src/, files under tests/, anything else) of a commit's paths."""
    source = {p for p in paths if p.startswith("src/") and p.endswith(".py")}
    tests = {p for p in paths if p.startswith("tests/")}
    return source, tests, set(paths) - source - tests


def test_candidates_change_source_and_tests_and_the_rest_do_not(sample_repo, sample_commits):
    """Genuine fixes and decoys a, c, d, e change source and tests; ordinary commits never both
    (but the root commit, which has no parent to be the buggy side)."""
    for commit in SAMPLE.HISTORY:
        sha = sample_commits[commit.subject]
        source, tests, _ = _sides(changed(sample_repo, sha))
        if commit.kind == "root-commit":
            assert git(sample_repo, "rev-list", "--parents", "-n1", sha) == sha
            continue
        assert bool(source and tests) == (commit.expected != "not-a-candidate"), commit.subject
        if commit.reason == "no-test-change":
            assert source and not tests, commit.subject
        if commit.reason == "no-source-change":
            assert tests and not source, commit.subject


def test_case_shapes(sample_repo, sample_commits):
    """Each case has the shape the brief asks for (one line, two modules, subpackage, data file...)."""
    genuine = {g["kind"]: sample_commits[g["subject"]] for g in SAMPLE.GENUINE}
    one_line = git(sample_repo, "diff", "--numstat", f"{genuine['one-line']}^", genuine["one-line"], "--", "src")
    assert one_line.split()[:2] == ["1", "1"]
    assert len(_sides(changed(sample_repo, genuine["multi-file"]))[0]) == 2
    assert list(_sides(changed(sample_repo, genuine["subpackage-exception"]))[0]) == ["src/calclib/stats/summary.py"]
    data_fix = changed(sample_repo, genuine["test-data-and-fixture"])
    assert {"tests/conftest.py", "tests/data/sizes.txt"} <= set(data_fix)
    docs = changed(sample_repo, sample_commits[DECOY_BY_KIND["docs-only"]["subject"]])
    assert set(docs) == {"README.md", "docs/units.md"}


def test_nonexistent_dependency_comes_and_goes(sample_repo, sample_commits):
    """Only the install-failed decoy's tree declares the missing dependency; main does not."""
    decoy = sample_commits[DECOY_BY_KIND["uninstallable-dependency"]["subject"]]
    name = SAMPLE.NONEXISTENT_DEPENDENCY
    for sha in sample_commits.values():
        declared = name in git(sample_repo, "show", f"{sha}:pyproject.toml")
        assert declared == (sha == decoy)


# --- the proofs --------------------------------------------------------------------------------


def _assert_failed_as_claimed(before: Run, fix: dict) -> None:
    """The FAIL_TO_PASS ids failed on the buggy side the way the fix's ``failure`` says."""
    if fix["failure"] == "collection":
        assert before.code == 2 and "ImportError" in before.output
        modules = {i.split("::")[0] for i in fix["fail_to_pass"]}
        assert {m for m, (s, _) in before.status.items() if s == "ERROR"} == modules
        assert not set(fix["fail_to_pass"]) & set(before.status)
        return
    # pytest reports a failed bare assert as "assert <explanation>", other errors as "Name: ...".
    prefixes = ("assert ", "AssertionError") if fix["failure"] == "assertion" else (fix["failure"][10:] + ":",)
    for node in fix["fail_to_pass"]:
        status, message = before.status[node]
        assert status == "FAILED" and message.startswith(prefixes), (node, status, message)


@pytest.mark.parametrize("fix", SAMPLE.GENUINE, ids=[g["kind"] for g in SAMPLE.GENUINE])
def test_genuine_fix_fails_before_and_passes_after(fix, sample_repo, sample_commits, tmp_path):
    """FAIL_TO_PASS fail on the parent with the fix's tests, pass at the fix; PASS_TO_PASS pass both."""
    _, before, _, after = both_sides(sample_repo, sample_commits[fix["subject"]], tmp_path)
    assert after.code == 0 and after.passed() == set(after.status), after.output
    assert sorted(after.passed() - before.passed()) == sorted(fix["fail_to_pass"]), before.output
    assert sorted(after.passed() & before.passed()) == sorted(fix["pass_to_pass"])
    _assert_failed_as_claimed(before, fix)


@pytest.mark.parametrize("kind", ["refactor", "fix-test-passes-before"])
def test_decoy_passes_on_both_sides(kind, sample_repo, sample_commits, tmp_path):
    """Refactor and no-op fix: every touched test passes before and after, so no FAIL_TO_PASS."""
    _, before, _, after = both_sides(sample_repo, sample_commits[DECOY_BY_KIND[kind]["subject"]], tmp_path)
    assert before.code == 0 and after.code == 0, before.output + after.output
    assert before.passed() == after.passed() == set(after.status) != set()


def test_flaky_decoy_passes_once_then_fails(sample_repo, sample_commits, tmp_path):
    """Fails on the buggy side without leaking; passes once at the fix; fails when rerun there."""
    decoy = DECOY_BY_KIND["flaky"]
    test, leaked = decoy["extra"]["test"], decoy["extra"]["leaked_file"]
    before_dir, before, after_dir, first = both_sides(sample_repo, sample_commits[decoy["subject"]], tmp_path)
    assert before.status[test][0] == "FAILED" and not (before_dir / leaked).exists()
    assert first.code == 0 and (after_dir / leaked).exists()
    second = run_pytest(after_dir, [test.split("::")[0]])
    assert second.status[test][0] == "FAILED"
    assert second.passed() == first.passed() - {test}


def test_install_failed_decoy_is_otherwise_a_real_fix(sample_repo, sample_commits, tmp_path):
    """Without installing anything its test is a genuine fail-to-pass: only the install stops it."""
    decoy = DECOY_BY_KIND["uninstallable-dependency"]
    _, before, _, after = both_sides(sample_repo, sample_commits[decoy["subject"]], tmp_path)
    assert after.code == 0
    assert sorted(after.passed() - before.passed()) == sorted(decoy["extra"]["fail_to_pass"])


def test_readme_table_matches_the_build(sample_commits):
    """sample/README.md lists every commit with its real sha and expected outcome (no drift)."""
    readme = (SAMPLE_BUILDER.parent / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| `([0-9a-f]{12})` \| (.+?) \| .+? \| ([a-z-]+) \|$", readme, re.M)
    expected = [
        (str(n), sample_commits[c.subject][:12], c.subject, c.reason or c.expected)
        for n, c in enumerate(SAMPLE.HISTORY, start=1)
    ]
    assert rows == expected


SHIPPED_BUNDLE = Path(__file__).resolve().parents[1] / "sample" / "calclib.bundle"


def test_shipped_bundle_is_what_the_script_builds(sample_commits):
    """The bundle the README mines is the script's output: same refs, same commit SHAs."""
    heads = subprocess.run(
        ["git", "bundle", "list-heads", str(SHIPPED_BUNDLE)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert list(sample_commits.values())[-1] in heads
    assert "refs/heads/main" in heads
