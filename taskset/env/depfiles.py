"""Readers for the files ``taskset.env.deps`` looks in: pyproject, setup.cfg, setup.py (ast), tox, requirements.

Every reader is forgiving: a file that does not parse contributes nothing and is noted in
``Reader.skipped``, because one odd file must not stop a commit from being mined.
"""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from pathlib import Path
from typing import Any

from taskset.env.requirements import cfg_list, normalize, requirement_name, split_words, unusable_reason
from taskset.env.setuppy import requirement_files, setup_kwargs
from taskset.env.specs import poetry_requirement, poetry_specifier

_NOT_RUNTIME = re.compile(r"dev|test|doc|lint|ci\b|ci[-_.]", re.I)
"""Requirements files named for development, tests, docs, linting or CI."""


class Reader:
    """Reads one source tree; remembers which files it read and which lines it left out."""

    def __init__(self, root: Path):
        self.root = root
        self.read: set[str] = set()
        self.skipped: list[str] = []
        self.self_extras: list[str] = []
        """Extras named by a requirements line that installs the project itself (``-e .[http2]``)."""
        self._toml: dict[str, Any] | None = None

    def _text(self, path: Path) -> str | None:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        self.read.add(path.relative_to(self.root).as_posix())
        return text

    def pyproject(self) -> dict[str, Any]:
        """pyproject.toml as a dict ({} when absent or broken)."""
        if self._toml is None:
            text = self._text(self.root / "pyproject.toml")
            try:
                self._toml = tomllib.loads(text) if text else {}
            except tomllib.TOMLDecodeError as exc:
                self.skipped.append(f"pyproject.toml ({exc})")
                self._toml = {}
        return self._toml

    def ini(self, name: str, text: str | None = None) -> configparser.ConfigParser:
        """An ini file (setup.cfg, tox.ini, pytest.ini) without interpolation; empty when broken."""
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        text = self._text(self.root / name) if text is None else text
        try:
            parser.read_string(text or "")
        except configparser.Error as exc:
            self.skipped.append(f"{name} ({type(exc).__name__})")
        return parser

    def project_metadata(self) -> dict[str, Any]:
        """Name, installability and build backend, read statically."""
        data = self.pyproject()
        build = data.get("build-system", {})
        name = data.get("project", {}).get("name") or data.get("tool", {}).get("poetry", {}).get("name", "")
        flit = data.get("tool", {}).get("flit", {}).get("metadata", {})
        name = name or flit.get("dist-name") or flit.get("module", "")
        cfg = self.ini("setup.cfg")
        name = name or cfg.get("metadata", "name", fallback="")
        setup = self.setup_call()
        name = name or (setup.get("name") if isinstance(setup.get("name"), str) else "")
        installable = (self.root / "setup.py").is_file() or bool(build) or "project" in data
        return {
            "name": name,
            "installable": installable,
            "build_backend": build.get("build-backend", ""),
            "build_requires": [r for r in build.get("requires", []) if isinstance(r, str)],
            "flit_metadata": bool(flit),
        }

    def extras(self) -> dict[str, list[str]]:
        """Optional-dependency extras from pyproject, setup.cfg and setup.py (first source wins)."""
        table: dict[str, list[str]] = {}
        setup_extras = self.setup_call().get("extras_require")
        if isinstance(setup_extras, dict):
            table.update({k: _as_list(v) for k, v in setup_extras.items() if isinstance(k, str)})
        cfg = self.ini("setup.cfg")
        if cfg.has_section("options.extras_require"):
            table.update({k: cfg_list(v) for k, v in cfg.items("options.extras_require")})
        tool = self.pyproject().get("tool", {})
        flit = tool.get("flit", {}).get("metadata", {}).get("requires-extra", {})
        if isinstance(flit, dict):
            table.update({k: _as_list(v) for k, v in flit.items() if isinstance(k, str)})
        poetry = tool.get("poetry", {})
        if isinstance(poetry.get("extras"), dict):
            deps = poetry.get("dependencies", {}) if isinstance(poetry.get("dependencies"), dict) else {}
            table.update({k: [poetry_requirement(n, deps.get(n, "*")) for n in _as_list(v)]
                          for k, v in poetry["extras"].items() if isinstance(k, str)})
        project = self.pyproject().get("project", {}).get("optional-dependencies", {})
        table.update({k: _as_list(v) for k, v in project.items()})
        return {normalize(k): v for k, v in table.items()}

    def tool_groups(self, names: tuple[str, ...]) -> list[str]:
        """Test requirements in tool-specific tables: poetry's dev-dependencies and groups, pdm's
        dev-dependencies, hatch's default/test environments (``hatch.toml`` too), Pipfile's
        ``[dev-packages]``, setup.py/setup.cfg ``tests_require``."""
        tool = self.pyproject().get("tool", {})
        reqs: list[str] = []
        poetry = tool.get("poetry", {})
        tables = [poetry.get("dev-dependencies")]
        groups = poetry.get("group", {})
        if isinstance(groups, dict):
            tables += [groups[g].get("dependencies") for g in groups
                       if normalize(g) in names and isinstance(groups[g], dict)]
        for table in tables:
            if isinstance(table, dict):
                reqs += [poetry_requirement(n, v) for n, v in table.items() if normalize(n) != "python"]
        pdm = tool.get("pdm", {}).get("dev-dependencies", {})
        if isinstance(pdm, dict):
            reqs += [r for g, v in pdm.items() if normalize(g) in names for r in _as_list(v)]
        reqs += self._hatch_envs(tool.get("hatch", {}).get("envs", {}))
        if (self.root / "hatch.toml").is_file():
            reqs += self._hatch_envs(self._toml_file("hatch.toml").get("envs", {}))
        if (self.root / "Pipfile").is_file():
            dev = self._toml_file("Pipfile").get("dev-packages", {})
            if isinstance(dev, dict):
                reqs += [poetry_requirement(n, v, pipfile=True) for n, v in dev.items()]
        reqs += _as_list(self.setup_call().get("tests_require") or [])
        cfg = self.ini("setup.cfg")
        reqs += cfg_list(cfg.get("options", "tests_require", fallback=""))
        return [r for r in reqs if r and not self._unusable_noted(r, "tool table")]

    def _hatch_envs(self, envs: Any) -> list[str]:
        """``dependencies`` and ``extra-dependencies`` of hatch's default and test environments."""
        if not isinstance(envs, dict):
            return []
        reqs: list[str] = []
        for name in ("default", "test", "tests", "testing", "hatch-test"):
            env = envs.get(name)
            if isinstance(env, dict):
                reqs += _as_list(env.get("dependencies", [])) + _as_list(env.get("extra-dependencies", []))
        return reqs

    def hatch_features(self) -> list[str]:
        """Extras hatch's default and test environments install (``features``)."""
        envs = self.pyproject().get("tool", {}).get("hatch", {}).get("envs", {})
        if (self.root / "hatch.toml").is_file():
            envs = {**(envs if isinstance(envs, dict) else {}), **self._toml_file("hatch.toml").get("envs", {})}
        if not isinstance(envs, dict):
            return []
        found: list[str] = []
        for name in ("default", "test", "tests", "testing", "hatch-test"):
            env = envs.get(name)
            if isinstance(env, dict):
                found += _as_list(env.get("features", []))
        return [normalize(f) for f in found]

    def _toml_file(self, name: str) -> dict[str, Any]:
        text = self._text(self.root / name)
        try:
            return tomllib.loads(text) if text else {}
        except tomllib.TOMLDecodeError as exc:
            self.skipped.append(f"{name} ({exc})")
            return {}

    def _unusable_noted(self, req: str, where: str) -> bool:
        reason = unusable_reason(req)
        if reason:
            self.skipped.append(f"{req} ({reason}, in {where})")
        return bool(reason)

    def runtime_requirements(self) -> list[str]:
        """The project's own dependencies, read statically (for running it from its source tree)."""
        data = self.pyproject()
        reqs = _as_list(data.get("project", {}).get("dependencies", []))
        poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
        if isinstance(poetry, dict):
            reqs += [poetry_requirement(n, v) for n, v in poetry.items() if normalize(n) != "python"
                     and not (isinstance(v, dict) and v.get("optional"))]
        flit = data.get("tool", {}).get("flit", {}).get("metadata", {})
        reqs += _as_list(flit.get("requires", []))
        reqs += cfg_list(self.ini("setup.cfg").get("options", "install_requires", fallback=""))
        reqs += _as_list(self.setup_call().get("install_requires") or [])
        for name in self._setup_requirement_files():
            reqs += self.requirements_file(self.root / name)
        return [r for r in dict.fromkeys(reqs) if r and not unusable_reason(r)]

    def _setup_requirement_files(self) -> list[str]:
        """Requirements files in the tree that setup.py names when it computes ``install_requires``."""
        text = self._text(self.root / "setup.py") if (self.root / "setup.py").is_file() else None
        try:
            tree = ast.parse(text) if text else None
        except SyntaxError:
            return []
        names = requirement_files(tree) if tree else []
        # the files of its extras and tests_require (dev, docs, CI pins) are not what it runs on
        return [n for n in names if "requir" in n.lower() and not _NOT_RUNTIME.search(n) and (self.root / n).is_file()]

    def python_needs(self) -> tuple[str, tuple[str, ...]]:
        """(requires-python as written, the minors the classifiers name), read statically."""
        data = self.pyproject()
        project = data.get("project", {})
        requires = project.get("requires-python", "") if isinstance(project.get("requires-python"), str) else ""
        flit = data.get("tool", {}).get("flit", {}).get("metadata", {})
        requires = requires or (flit.get("requires-python") if isinstance(flit.get("requires-python"), str) else "")
        poetry = data.get("tool", {}).get("poetry", {})
        python = poetry.get("dependencies", {}).get("python") if isinstance(poetry.get("dependencies"), dict) else None
        if not requires and isinstance(python, str):
            requires = poetry_specifier(python)
        cfg = self.ini("setup.cfg")
        requires = requires or cfg.get("options", "python_requires", fallback="").strip()
        setup = self.setup_call()
        if not requires and isinstance(setup.get("python_requires"), str):
            requires = setup["python_requires"]
        classifiers = _as_list(project.get("classifiers", [])) + _as_list(poetry.get("classifiers", []))
        classifiers += _as_list(flit.get("classifiers", []))
        classifiers += cfg_list(cfg.get("metadata", "classifiers", fallback=""))
        classifiers += _as_list(setup.get("classifiers") or [])
        minors = {m.group(1) for c in classifiers if (m := re.search(r"Python :: (\d+\.\d+)\s*$", c))}
        return requires.strip(), tuple(sorted(minors, key=lambda v: tuple(map(int, v.split(".")))))

    def all_requirements(self) -> list[str]:
        """Every requirement line the tree names anywhere we read: to look a missing module's
        distribution up (docs and lint files included; nothing of it is installed as such)."""
        reqs = [r for extra in self.extras().values() for r in extra]
        reqs += self.runtime_requirements() + self.tool_groups(("dev", "test", "tests", "testing", "lint", "docs"))
        groups = self.pyproject().get("dependency-groups", {})
        reqs += [r for g in (groups if isinstance(groups, dict) else {}) for r in self._group(groups, g, ())]
        for pattern in ("*requirements*.txt", "requirements/*.txt", "*/requirements*.txt"):
            for path in sorted(self.root.glob(pattern)):
                reqs += self.requirements_file(path)
        reqs += self.tox_deps()
        return [r for r in dict.fromkeys(reqs) if requirement_name(r)]

    def requirements_file(self, path: Path, seen: set[Path] | None = None) -> list[str]:
        """Requirement lines of a requirements file, following ``-r`` into files inside the tree."""
        seen = set() if seen is None else seen
        path = path.resolve()
        if path in seen or not path.is_relative_to(self.root.resolve()):
            return []
        seen.add(path)
        text = self._text(path)
        return self._lines(text or "", path.parent, seen, path.name)

    def _lines(self, text: str, base: Path, seen: set[Path], where: str) -> list[str]:
        reqs: list[str] = []
        for line in text.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s)#.*", "", line).strip()
            if not line:
                continue
            included = re.match(r"^(-r|--requirement)\s*=?\s*(\S+)", line)
            if included:
                target = included.group(2).replace("{toxinidir}/", "").replace("{toxinidir}", "")
                if "{" in target:
                    self.skipped.append(f"{line} (tox substitution, in {where})")
                else:
                    reqs += self.requirements_file(base / target, seen)
                continue
            itself = re.match(r"^(?:(?:-e|--editable)\s*)?(\.[^\s\[]*)(?:\[([^\]]*)\])?$", line)
            if itself and (base / itself.group(1)).resolve() == self.root.resolve():
                # "-e .[http2]": the project itself, with the extras its tests need
                self.self_extras += [normalize(e) for e in (itself.group(2) or "").split(",") if e.strip()]
                self.skipped.append(f"{line} (editable or path install of the project itself: its extras go with it,"
                                    f" in {where})")
                continue
            reason = unusable_reason(line)
            if reason:
                self.skipped.append(f"{line} ({reason}, in {where})")
            else:
                reqs.append(line)
        return reqs

    def tox_deps(self) -> list[str]:
        """``[testenv] deps`` from tox.ini, setup.cfg or pyproject's ``legacy_tox_ini``."""
        found = self._tox_testenv("deps")
        if found is None:
            return []
        name, value = found
        seen = {p.resolve() for p in map(self.root.joinpath, self.read)}
        return self._lines(value, self.root, seen, name)

    def tox_extras(self) -> list[str]:
        """``[testenv] extras``: the project's extras tox installs for the tests."""
        found = self._tox_testenv("extras")
        return [normalize(e) for e in re.split(r"[\s,]+", found[1]) if e and "{" not in e] if found else []

    def _tox_testenv(self, option: str) -> tuple[str, str] | None:
        """(file, value) of ``option`` in the first tox ``[testenv]`` section that has it."""
        legacy = self.pyproject().get("tool", {}).get("tox", {}).get("legacy_tox_ini")
        sources: list[tuple[str, str | None]] = [("tox.ini", None), ("setup.cfg", None)]
        if isinstance(legacy, str):
            sources.append(("pyproject.toml", legacy))
        for name, text in sources:
            if text is None and not (self.root / name).is_file():
                continue
            config = self.ini(name, text)
            if config.has_option("testenv", option):
                return name, config.get("testenv", option)
        return None

    def dependency_groups(self, names: tuple[str, ...]) -> list[str]:
        """PEP 735 ``[dependency-groups]`` named in ``names``, with ``{include-group = ...}`` expanded."""
        groups = {normalize(k): v for k, v in self.pyproject().get("dependency-groups", {}).items()}
        reqs: list[str] = []
        for name in names:
            reqs += self._group(groups, name, ())
        return reqs

    def _group(self, groups: dict[str, Any], name: str, stack: tuple[str, ...]) -> list[str]:
        if name in stack or name not in groups:
            if name in stack:
                self.skipped.append(f"dependency group {name!r} (includes itself)")
            return []
        reqs: list[str] = []
        for item in groups[name]:
            if isinstance(item, str):
                reqs.append(item)
            elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                reqs += self._group(groups, normalize(item["include-group"]), stack + (name,))
        return reqs

    def pytest_config(self) -> dict[str, Any]:
        """``addopts``, ``minversion`` and ``required_plugins`` from the first pytest config found."""
        ini_options = self.pyproject().get("tool", {}).get("pytest", {}).get("ini_options")
        for name, section in (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
            if (self.root / name).is_file():
                config = self.ini(name)
                if config.has_section(section):
                    return _pytest_section(dict(config.items(section)))
        if isinstance(ini_options, dict):
            return _pytest_section(ini_options)
        return {}

    def setup_call(self) -> dict[str, Any]:
        """Literal keyword arguments of the ``setup(...)`` call in setup.py (module-level names resolved)."""
        text = self._text(self.root / "setup.py") if (self.root / "setup.py").is_file() else None
        if not text:
            return {}
        try:
            tree = ast.parse(text)
        except SyntaxError:
            self.skipped.append("setup.py (does not parse)")
            return {}
        return setup_kwargs(tree)


def _pytest_section(options: dict[str, Any]) -> dict[str, Any]:
    plugins = options.get("required_plugins", "")
    addopts = options.get("addopts", "")
    return {
        "addopts": addopts if isinstance(addopts, list) else split_words(str(addopts)),
        "minversion": str(options.get("minversion", "")).strip(),
        "required_plugins": plugins if isinstance(plugins, list) else split_words(str(plugins)),
    }


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return cfg_list(value)
    return [v for v in value if isinstance(v, str)] if isinstance(value, (list, tuple)) else []
