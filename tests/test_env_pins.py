"""What a repository pinned (lock files, conflicting pin files) and which requirement uv's failure
names: the pure half of resolution that degrades instead of failing (taskset.env.pins, relax)."""

from __future__ import annotations

import json

from factories import make_task
from taskset.env.install import Plan, _dated
from taskset.env.pins import lock_pins, pin_from_lock, reconcile
from taskset.env.relax import culprits, relax
from taskset.record import EnvironmentSpec, Task

# uv 0.13's own words for the failures below, as it printed them
TWO_PINS = ("error: No solution found when resolving dependencies\n  cause: Because you require six==1.10.0 and "
            "six==1.16.0, we can conclude that your requirements are unsatisfiable.\n")
AFTER_CUTOFF = ("error: No solution found when resolving dependencies\n  cause: Because only iniconfig<=1.1.1 is "
                "available and you require iniconfig>=2.0, we can conclude that your requirements are unsatisfiable."
                "\n\nhint: `iniconfig` was filtered by `exclude-newer` to only include packages uploaded before "
                "2021-01-02T00:00:00Z.\n")
THROUGH_PYTEST = ("  cause: Because pytest==7.0.0 depends on attrs>=19.2.0 and you require pytest==7.0, we can "
                  "conclude that you require attrs>=19.2.0.\n         And because you require attrs<19, we can "
                  "conclude that your requirements are unsatisfiable.\n")


def test_two_files_pinning_one_package_differently_are_reconciled_to_the_newer_pin():
    """Two pin files naming one package at versions no release satisfies together become one line
    (the newer pin), with a note; lines a release satisfies together, or under other markers, stay."""
    lines = ("six==1.15.0", "attrs>=19", "six==1.16.0", "attrs<23", 'tomli<1; python_version < "3"', "tomli>=2")
    kept, notes = reconcile(lines)
    assert kept == ("attrs>=19", "six==1.16.0", "attrs<23", 'tomli<1; python_version < "3"', "tomli>=2")
    assert notes == ("six: reconciled six==1.15.0 and six==1.16.0 (no release satisfies both) to six==1.16.0",)


def test_lock_files_of_every_tool_pin_the_test_requirements(tmp_path):
    """poetry.lock, pdm.lock, uv.lock and Pipfile.lock all give their pins; a requirement the lock
    pins is installed at that pin, unless the lock's version is outside the declared range (stale)."""
    toml_lock = '[[package]]\nname = "Packaging"\nversion = "20.6"\n\n[[package]]\nname = "six"\nversion = "1.16.0"\n'
    for name in ("poetry.lock", "pdm.lock", "uv.lock"):
        root = tmp_path / name
        root.mkdir()
        (root / name).write_text(toml_lock)
        assert lock_pins(root) == (name, {"packaging": "20.6", "six": "1.16.0"})
    pipenv = tmp_path / "pipenv"
    pipenv.mkdir()
    (pipenv / "Pipfile.lock").write_text(json.dumps({"default": {"six": {"version": "==1.16.0"}},
                                                     "develop": {"packaging": {"version": "==20.6"}}}))
    assert lock_pins(pipenv) == ("Pipfile.lock", {"six": "1.16.0", "packaging": "20.6"})
    wanted = ("packaging>=20.6,<20.7", 'six<1.16; python_version >= "3"', "attrs")
    assert pin_from_lock(wanted, {"packaging": "20.6", "six": "1.16.0", "attrs": "23.1.0"}) == (
        "packaging==20.6", 'six<1.16; python_version >= "3"', "attrs==23.1.0")


def test_a_broken_or_ambiguous_lock_pins_nothing(tmp_path):
    """A lock that does not parse pins nothing; a package locked at two versions (per platform) is left to resolve."""
    (tmp_path / "poetry.lock").write_text("[[package]\nname =")
    assert lock_pins(tmp_path) == ("", {})
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "six"\nversion = "1.15.0"\n\n'
                                          '[[package]]\nname = "six"\nversion = "1.16.0"\n')
    assert lock_pins(tmp_path) == ("", {})


def test_the_package_uv_names_is_the_one_relaxed_never_pytest_or_the_project():
    """uv's explanation names the culprit: the package its exclude-newer hint filtered, the one pinned
    twice, the bound that conflicts with pytest's own need -- pytest and the project are kept."""
    assert culprits(AFTER_CUTOFF, ("calc", "pytest"))[0] == "iniconfig"
    assert culprits(TWO_PINS, ("calc", "pytest")) == ["six"]
    assert culprits(THROUGH_PYTEST, ("calc", "pytest")) == ["attrs"]
    # a project whose name could not be read is still never relaxed: uv names it by its path
    unnamed = "Because you require calc @ file:///tmp/calc and there is no version of six==99, ..."
    assert culprits(unnamed, ("", "pytest")) == ["six"]


def test_relaxing_goes_cutoff_then_upper_bound_then_any_version():
    """One package at a time: its own later cutoff, then its pins and upper bounds dropped (floors
    kept), then no bound; a package only a dependency bounds is overridden; each step is noted."""
    plan = Plan(project=True, requirements=("six==1.10.0", "attrs<19", "iniconfig>=2,<3"), exclude_newer="2021-01-01")
    later = relax(plan, "iniconfig", "cutoff", "2026-12-07")
    assert later.late == ("iniconfig=2026-12-07",)
    assert _dated(later.exclude_newer, later.late)[-2:] == ["--exclude-newer-package", "iniconfig=2026-12-07"]
    assert relax(later, "iniconfig", "cutoff", "2026-12-07") is None
    unbounded = relax(later, "six", "unbounded", "2026-12-07")
    assert unbounded.requirements == ("six>=1.10.0", "attrs<19", "iniconfig>=2,<3")
    assert relax(unbounded, "six", "unbounded", "2026-12-07") is None
    anything = relax(unbounded, "attrs", "any", "2026-12-07")
    assert anything.requirements == ("six>=1.10.0", "attrs", "iniconfig>=2,<3")
    assert anything.overrides == ("attrs",)  # what its dependents ask of it goes too
    assert relax(anything, "attrs", "any", "2026-12-07") is None
    transitive = relax(anything, "pluggy", "unbounded", "2026-12-07")
    assert transitive.overrides == ("attrs", "pluggy")
    assert transitive.relaxed == (
        "iniconfig: resolved as of 2026-12-07 (its own later cutoff)",
        "six: upper bound dropped (six==1.10.0 -> six>=1.10.0)",
        "attrs: any version (attrs<19 -> attrs)",
        "attrs: overridden to any version (its dependents' bounds too)",
        "pluggy: overridden to any version (a dependency's bound)",
    )


def test_a_task_file_from_before_relaxation_still_loads():
    """A task recorded before ``EnvironmentSpec.relaxed`` existed loads with nothing relaxed;
    one with it round-trips."""
    old = json.loads(make_task().to_json())
    assert "relaxed" in old["environment"]
    del old["environment"]["relaxed"]
    assert Task.from_dict(old).environment.relaxed == ()
    spec = EnvironmentSpec(python="3.11.7", relaxed=("six: any version (six<1 -> six)",))
    task = make_task(environment=spec)
    assert Task.from_json(task.to_json()).environment.relaxed == spec.relaxed
