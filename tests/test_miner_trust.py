"""The miner keeps only tasks the evaluator can judge: a fix whose runs the evaluator would call
``tampered`` (the code under test changes how pytest reports) is rejected, never a task whose gold
patch could then never resolve."""

from __future__ import annotations

from miner import MineConfig, Reason, mine, read_rejections
from taskset import TaskSet, evaluate

PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
             '[project]\nname = "calc"\nversion = "0.1"\n[tool.setuptools]\npy-modules = ["calc"]\n')

# A wrapper around pytest's reporting that changes nothing: honest in effect, but the evaluator cannot
# tell it from a forgery, so it calls every run with it ``tampered``.
WRAPS_PYTEST = ("import _pytest.runner\n_original = _pytest.runner.call_and_report\n\n"
                "def call_and_report(*args, **kwargs):\n    return _original(*args, **kwargs)\n\n"
                "_pytest.runner.call_and_report = call_and_report\n\n")


def test_a_fix_whose_runs_the_evaluator_would_not_trust_is_no_task(make_repo, tmp_path):
    repo = make_repo()
    repo.commit("Initial", {
        "pyproject.toml": PYPROJECT, "calc.py": "def half(x):\n    return x // 2\n",
        "tests/test_calc.py": "from calc import half\n\ndef test_half():\n    assert half(4) == 2\n",
    })
    trusted = repo.commit("Fix half of odd numbers", {
        "calc.py": "def half(x):\n    return x / 2\n",
        "tests/test_calc.py": "from calc import half\n\ndef test_half():\n    assert half(4) == 2\n\n"
                              "def test_half_odd():\n    assert half(3) == 1.5\n",
    })
    untrusted = repo.commit("Add the missing third()", {
        "calc.py": WRAPS_PYTEST + "def half(x):\n    return x / 2\n\ndef third(x):\n    return x / 3\n",
        "tests/test_calc.py": "import calc\nfrom calc import half\n\ndef test_half():\n    assert half(4) == 2\n\n"
                              "def test_half_odd():\n    assert half(3) == 1.5\n\n"
                              "def test_third():\n    assert calc.third(3) == 1\n",
    })
    out = tmp_path / "ts"
    summary = mine(MineConfig(repo=str(repo.path), out=out))
    assert not summary.infrastructure, summary.infrastructure

    tasks = {task.fix_commit: task for task in TaskSet.open(out)}
    rejections = {r.fix_commit: r for r in read_rejections(out / "rejections.jsonl")}
    assert trusted in tasks, rejections.get(trusted)  # the same project, minus the wrapper, is mined
    assert evaluate(tasks[trusted], patch=tasks[trusted].patch).resolved
    assert untrusted not in tasks
    assert rejections[untrusted].reason is Reason.TEST_RUN_FAILED
    assert "would not trust" in rejections[untrusted].detail
    assert "call_and_report" in rejections[untrusted].detail
