"""Where test dependencies are found: pure functions over source trees written in tmp dirs (no venvs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskset.env import deps, layout, pythons


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` under ``root`` and return it."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "Demo_Pkg"
version = "1"

[project.optional-dependencies]
test = ["pytest>=6", "hypothesis"]
docs = ["sphinx"]
"""

SETUP_PY = """
from setuptools import setup
TESTS = ["mock", "pytest<5"]
setup(name="legacy", extras_require={"testing": TESTS, "speed": ["ujson"]}, version=open("V").read())
"""

CASES = {
    "pyproject extras named test, not docs": (
        {"pyproject.toml": PYPROJECT},
        dict(name="Demo_Pkg", extras=("test",), extra_requirements=("pytest>=6", "hypothesis"), requirements=()),
    ),
    "setup.py extras read with ast, never executed": (
        {"setup.py": SETUP_PY},
        dict(name="legacy", installable=True, extras=("testing",), extra_requirements=("mock", "pytest<5")),
    ),
    "setup.py extras through dict(...) and list concatenation": (
        {"setup.py": SETUP_PY.replace('{"testing": TESTS, "speed": ["ujson"]}', 'dict(tests=TESTS + ["nose"])')},
        dict(extras=("tests",), extra_requirements=("mock", "pytest<5", "nose")),
    ),
    "setup.cfg extras_require, one per line": (
        {"setup.cfg": "[metadata]\nname = cfgpkg\n[options.extras_require]\ntests =\n    coverage\n    pytest-mock\n",
         "setup.py": "from setuptools import setup\nsetup()\n"},
        dict(name="cfgpkg", extras=("tests",), extra_requirements=("coverage", "pytest-mock")),
    ),
    "setup.cfg old comma-separated extras keep a two-clause pin whole": (
        {"setup.cfg": "[metadata]\nname = c\n[options.extras_require]\ndev = pytest>=6,<8, flake8\n"},
        dict(extra_requirements=("pytest>=6,<8", "flake8")),
    ),
    "requirements files: dev and test, -r followed, options and self dropped": (
        {"pyproject.toml": PYPROJECT,
         "requirements-dev.txt": "-r requirements-test.txt\n-e .\n--index-url https://x\nblack  # style\n",
         "requirements-test.txt": "freezegun==1.2\ndemo-pkg[extra1]\n",
         "requirements.txt": "django\n"},
        dict(requirements=("freezegun==1.2", "black"), extras=("test", "extra1")),
    ),
    "plain requirements.txt counts only for a tree that is not a package": (
        {"requirements.txt": "requests\n", "tests/requirements.txt": "responses\n"},
        dict(installable=False, requirements=("responses", "requests")),
    ),
    "a package's root requirements.txt that names pytest holds its test deps (httpx)": (
        {"pyproject.toml": PYPROJECT, "requirements.txt": "-e .[brotli]\npytest==7.1\ntrio==0.21\ntrustme\n"},
        dict(requirements=("pytest==7.1", "trio==0.21", "trustme")),
    ),
    "-e .[extra] in a requirements file installs the project with that extra": (
        {"pyproject.toml": PYPROJECT.replace('docs = ["sphinx"]', 'http2 = ["h2"]'),
         "requirements.txt": "-e .[http2]\npytest\n"},
        dict(extras=("test", "http2"), requirements=("pytest",)),
    ),
    "a package's root requirements.txt without pytest stays for tox -r to read": (
        {"pyproject.toml": PYPROJECT, "requirements.txt": "requests\n",
         "tox.ini": "[tox]\nenvlist = py\n[testenv]\ndeps =\n    -rrequirements.txt\n    mock\n"},
        dict(requirements=("requests", "mock")),
    ),
    "requirements/ folder: test and dev files only": (
        {"requirements/test.txt": "pytest-asyncio\n", "requirements/docs.txt": "sphinx\n",
         "requirements/dev.txt": "tox\n"},
        dict(requirements=("pytest-asyncio", "tox")),
    ),
    "tox deps: factors, substitutions and already-read files skipped": (
        {"tox.ini": "[tox]\nenvlist = py\n[testenv]\ndeps =\n    -r{toxinidir}/requirements-test.txt\n"
                    "    -r{toxinidir}/other.txt\n    py27: mock\n    {env:EXTRA:}\n    coverage\n"
                    "commands = pytest\n",
         "requirements-test.txt": "attrs\n", "other.txt": "six\n"},
        dict(requirements=("attrs", "six", "coverage")),
    ),
    "dependency groups with include-group": (
        {"pyproject.toml": '[dependency-groups]\nlint = ["ruff"]\ncore = ["pytest-randomly"]\n'
                           'test = ["pytest-mock", {include-group = "core"}]\n'
                           'Dev = [{include-group = "test"}, "ipdb"]\n'},
        dict(requirements=("pytest-mock", "pytest-randomly", "ipdb")),
    ),
    "a group including itself does not loop": (
        {"pyproject.toml": '[dependency-groups]\ntest = ["a", {include-group = "test"}]\n'},
        dict(requirements=("a",)),
    ),
    "addopts --cov in setup.cfg implies pytest-cov": (
        {"setup.cfg": "[tool:pytest]\naddopts = --cov=pkg --cov-report term -ra\nminversion = 6.0\n"},
        dict(requirements=("pytest-cov",), minversion="6.0"),
    ),
    "addopts in pyproject, as a list, and required_plugins": (
        {"pyproject.toml": '[tool.pytest.ini_options]\naddopts = ["-n", "auto", "--timeout=30"]\n'
                           'required_plugins = ["pytest-mock>=3"]\n'},
        dict(requirements=("pytest-xdist", "pytest-timeout", "pytest-mock>=3")),
    ),
    "pytest.ini wins over pyproject for addopts": (
        {"pytest.ini": "[pytest]\naddopts = --benchmark-skip -nauto\n",
         "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--mypy"\n'},
        dict(requirements=("pytest-benchmark", "pytest-xdist")),
    ),
    "flit's requires-extra is an extra of the project": (
        {"pyproject.toml": '[build-system]\nrequires = ["flit"]\nbuild-backend = "flit.buildapi"\n'
                           '[tool.flit.metadata]\nmodule = "fm"\n[tool.flit.metadata.requires-extra]\n'
                           'test = ["pytest-mock", "responses"]\ndoc = ["sphinx"]\n'},
        dict(extras=("test",), extra_requirements=("pytest-mock", "responses")),
    ),
    "poetry dev-dependencies and test groups, in PEP 440": (
        {"pyproject.toml": '[tool.poetry]\nname = "po"\n[tool.poetry.dependencies]\npython = "^3.7"\nattrs = "^21.2"\n'
                           '[tool.poetry.dev-dependencies]\npytest = "^6.2"\n'
                           'PyYAML = {version = "~5.4", extras = ["c"]}\n'
                           'local = {path = "../x"}\n'
                           '[tool.poetry.group.test.dependencies]\nfreezegun = "*"\n'
                           '[tool.poetry.group.docs.dependencies]\nsphinx = "*"\n'},
        dict(requirements=("pytest>=6.2,<7", "PyYAML[c]>=5.4,<5.5", "freezegun"), runtime=("attrs>=21.2,<22",)),
    ),
    "pdm dev-dependencies, hatch environments with their features, Pipfile dev-packages": (
        {"pyproject.toml": '[project]\nname = "h"\ndependencies = ["click>=8"]\n'
                           '[project.optional-dependencies]\nsocks = ["pysocks"]\n'
                           '[tool.pdm.dev-dependencies]\ntest = ["pytest-cov"]\nlint = ["ruff"]\n'
                           '[tool.hatch.envs.default]\ndependencies = ["coverage[toml]"]\nfeatures = ["socks"]\n'
                           '[tool.hatch.envs.docs]\ndependencies = ["mkdocs"]\n',
         "Pipfile": '[packages]\nrequests = "*"\n[dev-packages]\nmock = ">=3"\nnose = "*"\n'},
        dict(extras=("socks",), requirements=("pytest-cov", "coverage[toml]", "mock>=3", "nose"),
             runtime=("click>=8",)),
    ),
    "setup.py tests_require and setup.cfg tests_require": (
        {"setup.py": 'from setuptools import setup\n'
                     'setup(name="t", tests_require=["nose", "mock"], install_requires=["six"])\n',
         "setup.cfg": "[options]\ntests_require =\n    pytest-mock\n"},
        dict(requirements=("nose", "mock", "pytest-mock"), runtime=("six",)),
    ),
    "an extra named dev only when no test extra exists": (
        {"pyproject.toml": PYPROJECT.replace('docs = ["sphinx"]', 'dev = ["mypy==0.812", "pytest>=6"]')},
        dict(extras=("test",), extra_requirements=("pytest>=6", "hypothesis")),
    ),
    "setup.py extras grown by item assignment, and the extras tox installs": (
        {"setup.py": "from setuptools import setup\nEXTRAS = {'reco': ['simplejson'], 'tests': ['pytz']}\n"
                     "EXTRAS['dev'] = EXTRAS['reco'] + EXTRAS['tests'] + ['tox']\n"
                     "setup(name='m', extras_require=EXTRAS)\n",
         "tox.ini": "[testenv]\nextras = tests,reco\ncommands = pytest\n"},
        dict(extras=("tests", "reco"), extra_requirements=("pytz", "simplejson")),
    ),
    "test-requirements.txt and requirements/ci.txt": (
        {"test-requirements.txt": "hypothesis\n", "requirements/ci.txt": "pytest-xdist\n"},
        dict(requirements=("hypothesis", "pytest-xdist")),
    ),
    "requirements files named for tests in the other spellings projects use": (
        {"dev_requirements.txt": "mock\n", "testing-requirements.txt": "hypothesis\n",
         "test/requirements.txt": "pytest-mock\n", "setup.py": "", "requirements.txt": "sphinx==1.2b1\n"},
        dict(requirements=("mock", "hypothesis", "pytest-mock")),
    ),
    "install_requires computed from the requirements file setup.py names": (
        {"setup.py": "from setuptools import setup\ndef read(name):\n    return open(name).read().split()\n"
                     "setup(name='r', install_requires=read('requirements/base.txt'), data_files=['notes.txt'],\n"
                     "      tests_require=read('requirements/test.txt'))\n",
         "requirements/base.txt": "six\nattrs>=19\n", "notes.txt": "not requirements\n",
         "requirements/test.txt": "pytest-mock\n"},
        dict(runtime=("six", "attrs>=19")),
    ),
}


def test_python_needs_reads_requires_python_and_classifiers(tmp_path):
    """requires-python (pyproject, poetry's python, setup.cfg, setup.py) and the classifiers' minors."""
    setup = ('from setuptools import setup\nsetup(name="x", python_requires=">=2.7, !=3.0.*",\n'
             '      classifiers=["Programming Language :: Python :: 2.7", "Programming Language :: Python :: 3.4",\n'
             '                   "Programming Language :: Python :: 3", "Programming Language :: Python :: 3.10"])\n')
    needs = deps.python_needs(tree(tmp_path / "a", {"setup.py": setup}))
    assert needs.requires == ">=2.7, !=3.0.*" and needs.classifiers == ("2.7", "3.4", "3.10")
    poetry = deps.python_needs(
        tree(tmp_path / "b", {"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.8"\n'}))
    assert poetry.requires == ">=3.8,<4"


def test_distribution_for_a_missing_module(tmp_path):
    """A missing module's distribution: the project's own line for it first, then the usual name."""
    root = tree(tmp_path, {"docs/requirements.txt": "sphinx\n",
                           "requirements/docs.txt": "PyYAML>=5 ; python_version>'3'\n"})
    assert deps.distribution_for(root, "yaml") == "PyYAML>=5"
    assert deps.distribution_for(root, "dateutil.tz") == "python-dateutil"
    assert deps.distribution_for(root, "pytest_asyncio") == "pytest-asyncio"
    assert deps.distribution_for(root, "trustme") == "trustme"


@pytest.mark.parametrize("name", list(CASES))
def test_scan_table(tmp_path, name):
    """Each source of test dependencies is read, and what cannot go to the index is left out."""
    files, expected = CASES[name]
    found = deps.scan(tree(tmp_path, files))
    for field, value in expected.items():
        assert getattr(found, field) == value, field


def test_skipped_lines_say_why(tmp_path):
    """Left-out lines are data: each names its reason."""
    found = deps.scan(tree(tmp_path, {"requirements-dev.txt": "-e .\ngit+https://x/y.git\n./local\n"}))
    reasons = " | ".join(found.skipped)
    assert "editable" in reasons and "URL" in reasons


def test_flit_metadata_project_is_noted(tmp_path):
    """An old [tool.flit.metadata] project is recognised so the ladder can cap flit_core."""
    found = deps.scan(tree(tmp_path, {"pyproject.toml": '[build-system]\nrequires = ["flit"]\n'
                                      'build-backend = "flit.buildapi"\n[tool.flit.metadata]\nmodule = "fm"\n'}))
    assert found.flit_metadata and found.name == "fm" and found.installable


def test_broken_files_contribute_nothing(tmp_path):
    """A file that does not parse is noted and skipped; the scan does not fail."""
    found = deps.scan(tree(tmp_path, {"pyproject.toml": "[project\n", "setup.py": "def (:\n", "tox.ini": "deps\n"}))
    assert found.requirements == () and len(found.skipped) >= 2


PYTEST_CASES = [
    # (test requirements, minversion, python, expected pytest requirement)
    ((), "", "3.8.10", "pytest>=3.5"),                        # the runner's own floor
    ((), "", "3.11.7", "pytest>=7.2"),
    (("pytest<5",), "", "3.11.7", "pytest>=7.2"),            # a pin that cannot run here is replaced
    (("pytest==6.2.5",), "", "3.12.1", "pytest>=7.4.3"),
    (("pytest>=6,<9",), "", "3.11.7", "pytest>=6,<9,>=7.2"),  # a compatible pin is kept
    (("pytest~=7.0",), "", "3.12.1", "pytest~=7.0,>=7.4.3"),
    (("pytest==7.*",), "", "3.13.0", "pytest>=8.2"),
    ((), "7.4", "3.11.7", "pytest>=7.4"),                     # the project's minversion raises the floor
    ((), "6.0", "3.11.7", "pytest>=7.2"),
    (("pytest<5",), "", "3.7.9", "pytest<5,>=3.5"),
    (("pytest<3",), "", "3.6.15", "pytest>=3.5"),             # older than the runner drives: dropped
    (("pytest>=8",), "", "3.11.7", "pytest>=8"),              # already above the floor: nothing added
    (("pytest==7.4.0",), "", "3.11.7", "pytest==7.4.0"),
    (("pytest~=7.1.0",), "", "3.11.7", "pytest>=7.2"),        # ~=7.1.0 means 7.1.*: below the floor, dropped
    (("pytest<7.2.0.post1",), "", "3.11.7", "pytest<7.2.0.post1,>=7.2"),  # 7.2.0 itself fits
    (("pytest!=7.2.0",), "", "3.11.7", "pytest!=7.2.0,>=7.2"),  # 7.2.1 fits
    (("pytest>=6", "pytest<7"), "", "3.11.7", "pytest>=6,>=7.2"),  # the second pin would empty the set
    (("pytest>=7.2.1",), "", "3.11.7", "pytest>=7.2.1"),
    ((), "not a version", "3.11.7", "pytest>=7.2"),
]


@pytest.mark.parametrize("reqs, minversion, python, expected", PYTEST_CASES)
def test_choose_pytest(reqs, minversion, python, expected):
    """The pytest requirement is one both the interpreter and the project accept."""
    found = deps.ProjectDeps(requirements=reqs, minversion=minversion)
    assert deps.choose_pytest(found, python) == expected


def test_implied_plugins_short_xdist_forms():
    """-n4, -n auto and --numprocesses all mean pytest-xdist; -p no:foo means nothing."""
    assert deps.implied_plugins("-n4") == ["pytest-xdist"]
    assert deps.implied_plugins("-n auto --numprocesses=2") == ["pytest-xdist"]
    assert deps.implied_plugins("-p no:cacheprovider -ra --strict-markers") == []
    assert deps.implied_plugins("--doctest-plus --reruns 2 --asyncio-mode=auto") == [
        "pytest-doctestplus", "pytest-rerunfailures", "pytest-asyncio"]


def test_pythonpath_layouts(tmp_path):
    """src/ holding a package gives ("src", "."); an src/ of data files does not."""
    assert layout.pythonpath(tree(tmp_path / "a", {"src/pkg/__init__.py": ""})) == ("src", ".")
    assert layout.pythonpath(tree(tmp_path / "b", {"src/data.txt": "", "pkg/__init__.py": ""})) == (".",)
    assert layout.pythonpath(tree(tmp_path / "c", {"src/mod.py": ""})) == ("src", ".")


@pytest.mark.parametrize("files", [
    {"pyproject.toml": '[tool.setuptools.package-dir]\n"" = "lib"\n'},
    {"pyproject.toml": '[tool.setuptools.packages.find]\nwhere = ["lib"]\n'},
    {"setup.cfg": "[options]\npackage_dir =\n    =lib\n"},
    {"setup.cfg": "[options.packages.find]\nwhere = lib\n"},
    {"setup.py": "from setuptools import setup\nsetup(name='x', package_dir={'': 'lib'})\n"},
    {"pyproject.toml": '[tool.poetry]\npackages = [{include = "pkg", from = "lib"}]\n'},
    {"pyproject.toml": '[tool.hatch.build.targets.wheel]\npackages = ["lib/pkg"]\n'},
])
def test_pythonpath_reads_a_declared_source_folder(tmp_path, files):
    """Environments never hold the project: a source folder the packaging names (here lib/) must be
    an import root, or the tests cannot import the project at all."""
    assert layout.pythonpath(tree(tmp_path / "t", {**files, "lib/pkg/__init__.py": ""})) == ("lib", ".")


def test_pythonpath_ignores_declared_folders_outside_the_tree_or_without_code(tmp_path):
    """A declared folder that escapes the tree, or holds no code, falls back to the src/flat rule."""
    escape = tree(tmp_path / "a", {"setup.cfg": "[options]\npackage_dir =\n    =../elsewhere\n", "pkg/__init__.py": ""})
    assert layout.pythonpath(escape) == (".",)
    empty = tree(tmp_path / "b", {"pyproject.toml": '[tool.setuptools.packages.find]\nwhere = ["lib"]\n',
                                  "lib/README": "", "src/pkg/__init__.py": ""})
    assert layout.pythonpath(empty) == ("src", ".")


def test_effective_date_rules():
    """The resolution date is the latest of the fix date, the interpreter's release and its pytest floor's."""
    assert pythons.effective_date("2019-05-01", "3.11.7") == "2022-10-25"
    assert pythons.effective_date("2024-02-03T10:00:00+02:00", "3.11.7") == "2024-02-03"
    assert pythons.effective_date("2024-02-03T23:30:00-02:00", "3.11.7") == "2024-02-04", "the UTC day"
    assert pythons.effective_date("2019-05-01", "3.8.18") == "2019-10-14"
    assert pythons.effective_date(None, "3.2.6") == "2018-03-22", "the runner's pytest floor"
    assert pythons.effective_date("2016-04-01", "3.6.15") == "2018-03-22"
    assert pythons.effective_date("2020-01-01", "3.13.0") == "2024-10-07"


def test_dependency_files_cover_the_fingerprint_inputs(tmp_path):
    """Every file that decides an environment's content is hashed; source files are not."""
    root = tree(tmp_path, {"setup.py": "", "tox.ini": "", "requirements/dev.txt": "", "tests/requirements.txt": "",
                           "dev-requirements.txt": "", "pkg/__init__.py": "", "README.md": ""})
    names = {p.relative_to(root).as_posix() for p in deps.dependency_files(root)}
    assert names == {"setup.py", "tox.ini", "requirements/dev.txt", "tests/requirements.txt", "dev-requirements.txt"}


CLASSIFY_CASES = [
    ("error: No solution found when resolving dependencies:\n  Because nope was not found in the package "
     "registry and you require nope, we can conclude that your requirements are unsatisfiable.", "resolution"),
    ("error: Failed to build `x @ file:///t`\n  cause: The build backend returned an error", "build"),
    ("error: The build backend returned an error\n  cause: Call to `setuptools.build_meta` failed", "build"),
    ("error: Request failed after 3 retries", "other"),
]


@pytest.mark.parametrize("output, kind", CLASSIFY_CASES)
def test_install_failures_are_classified(output, kind):
    """Only build failures climb the install ladder; a missing package or a conflict fails at once."""
    from taskset.env.buildfailure import classify

    assert classify(output) == kind


def test_installer_output_is_trimmed_to_its_tail():
    """An installer's output is kept to its last 60 lines (errors come last), with a count of what was cut."""
    from taskset.env.buildfailure import trim

    text = trim(("\n".join(f"line {n}" for n in range(200)) + "\n\xff\xfe").encode("latin-1"))
    lines = text.splitlines()
    assert len(lines) == 61 and lines[0].startswith("[... 141 lines omitted")
    assert lines[-1] == "\ufffd\ufffd", "undecodable bytes are replaced, never raised"


def test_bad_resolution_date_is_a_build_error():
    """A resolution date that is not ISO 8601 raises EnvironmentBuildError, not ValueError."""
    from taskset.errors import EnvironmentBuildError

    with pytest.raises(EnvironmentBuildError, match="not an ISO 8601 date"):
        pythons.effective_date("last tuesday", "3.11.7")


def test_find_python_by_minor():
    """A task's recorded version finds an interpreter of the same minor; an unknown minor finds none."""
    import sys

    assert pythons.find_python(f"{sys.version_info.major}.{sys.version_info.minor}.99") == Path(sys.executable)
    assert pythons.find_python("2.5.1") is None
    assert pythons.find_python("") is None
