"""Readers for the files ``taskset.deps`` looks in: pyproject, setup.cfg, setup.py (ast), tox, requirements.

Every reader is forgiving: a file that does not parse contributes nothing and is noted in
``Reader.skipped``, because one odd file must not stop a commit from being mined.
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from taskset._specs import poetry_requirement, poetry_specifier

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRAS = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*\[([^\]]*)\]")
_FACTOR = re.compile(r"^[A-Za-z0-9_.,!{}-]+:\s+\S")  # tox "py38: pytest<5" (conditional on a factor)


def normalize(name: str) -> str:
    """PEP 503 name normalisation: ``Pytest_Cov`` -> ``pytest-cov``."""
    return canonicalize_name(name)


def requirement_name(req: str) -> str:
    """The distribution name a requirement line starts with ("" if none)."""
    match = _NAME.match(req)
    return match.group(1) if match else ""


def requirement_extras(req: str) -> list[str]:
    """``name[a, b]>=1`` -> ``["a", "b"]``."""
    match = _EXTRAS.match(req)
    return [e.strip() for e in match.group(1).split(",") if e.strip()] if match else []


def split_words(text: str) -> list[str]:
    """Shell-like words; an unbalanced quote falls back to whitespace splitting."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


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
        setup = self._setup_call()
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
        setup_extras = self._setup_call().get("extras_require")
        if isinstance(setup_extras, dict):
            table.update({k: _as_list(v) for k, v in setup_extras.items() if isinstance(k, str)})
        cfg = self.ini("setup.cfg")
        if cfg.has_section("options.extras_require"):
            table.update({k: _cfg_list(v) for k, v in cfg.items("options.extras_require")})
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
        reqs += _as_list(self._setup_call().get("tests_require") or [])
        cfg = self.ini("setup.cfg")
        reqs += _cfg_list(cfg.get("options", "tests_require", fallback=""))
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
        reason = _unusable(req)
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
        reqs += _cfg_list(self.ini("setup.cfg").get("options", "install_requires", fallback=""))
        reqs += _as_list(self._setup_call().get("install_requires") or [])
        return [r for r in dict.fromkeys(reqs) if r and not _unusable(r)]

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
        setup = self._setup_call()
        if not requires and isinstance(setup.get("python_requires"), str):
            requires = setup["python_requires"]
        classifiers = _as_list(project.get("classifiers", [])) + _as_list(poetry.get("classifiers", []))
        classifiers += _as_list(flit.get("classifiers", []))
        classifiers += _cfg_list(cfg.get("metadata", "classifiers", fallback=""))
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
            reason = _unusable(line)
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

    def _setup_call(self) -> dict[str, Any]:
        """Literal keyword arguments of the ``setup(...)`` call in setup.py (module-level names resolved)."""
        text = self._text(self.root / "setup.py") if (self.root / "setup.py").is_file() else None
        if not text:
            return {}
        try:
            tree = ast.parse(text)
        except SyntaxError:
            self.skipped.append("setup.py (does not parse)")
            return {}
        return _setup_kwargs(tree)


def _setup_kwargs(tree: ast.Module) -> dict[str, Any]:
    assigned: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and (
            item := _item_of_dict(node.targets[0], assigned)
        ):
            # EXTRAS['dev'] = EXTRAS['tests'] + [...]: the dict literal gains that key
            # (evaluated now, against the dict as it was: the value may read the dict itself)
            name, table, key = item
            try:
                value = ast.Constant(_literal(node.value, assigned, 0))
            except (ValueError, TypeError, KeyError, RecursionError):
                continue
            assigned[name] = ast.Dict(keys=[*table.keys, key], values=[*table.values, value])
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) == "setup":
            found = {}
            for keyword in call.keywords:
                if keyword.arg is None:  # setup(**options): not followed
                    continue
                try:
                    found[keyword.arg] = _literal(keyword.value, assigned, 0)
                except (ValueError, TypeError, KeyError, RecursionError):
                    continue  # computed at run time: unknowable without executing setup.py
            return found
    return {}


def _item_of_dict(target: ast.expr, assigned: dict[str, ast.expr]) -> tuple[str, ast.Dict, ast.Constant] | None:
    """``NAME['key']`` where NAME is a module-level dict literal: (NAME, the literal, 'key'), else None."""
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        table = assigned.get(target.value.id)
        if isinstance(table, ast.Dict) and isinstance(target.slice, ast.Constant):
            return target.value.id, table, target.slice
    return None


def _literal(node: ast.expr, names: dict[str, ast.expr], depth: int) -> Any:
    """A literal, with module-level names and list ``+`` resolved (``TESTS + ["x"]``)."""
    if depth > 20:
        raise ValueError("too deep")
    if isinstance(node, ast.Name):
        return _literal(names[node.id], names, depth + 1)
    if isinstance(node, ast.Subscript):
        return _literal(node.value, names, depth + 1)[_literal(node.slice, names, depth + 1)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, names, depth + 1) + _literal(node.right, names, depth + 1)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(item, names, depth + 1) for item in node.elts]
    if isinstance(node, ast.Dict):
        keys = [k for k in node.keys if k is not None]
        if len(keys) != len(node.keys):  # {**other}
            raise ValueError("dict unpacking")
        return {_literal(k, names, depth + 1): _literal(v, names, depth + 1)
                for k, v in zip(keys, node.values, strict=True)}
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict" and not node.args:
        return {kw.arg: _literal(kw.value, names, depth + 1) for kw in node.keywords if kw.arg}
    return ast.literal_eval(node)


def _pytest_section(options: dict[str, Any]) -> dict[str, Any]:
    plugins = options.get("required_plugins", "")
    addopts = options.get("addopts", "")
    return {
        "addopts": addopts if isinstance(addopts, list) else split_words(str(addopts)),
        "minversion": str(options.get("minversion", "")).strip(),
        "required_plugins": plugins if isinstance(plugins, list) else split_words(str(plugins)),
    }


def _unusable(line: str) -> str:
    """Why a requirement line cannot go to the package index ("" when it can)."""
    if line.startswith(("-e", "--editable")):
        return "editable install"
    if line.startswith("-"):
        return "installer option"
    if line.startswith((".", "/")) or "://" in line or line.startswith("file:"):
        return "path or URL, not on the package index"
    if _FACTOR.match(line):
        return "tox factor condition"
    if "{" in line:
        return "tox substitution"
    if not requirement_name(line):
        return "not a requirement"
    return ""


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return _cfg_list(value)
    return [v for v in value if isinstance(v, str)] if isinstance(value, (list, tuple)) else []


def _cfg_list(value: str) -> list[str]:
    """setup.cfg lists: one per line, or (old style) comma-separated on one line."""
    if "\n" in value.strip():
        return [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]
    items: list[str] = []
    for piece in value.split(","):
        # "pytest>=6,<8" is one requirement: a piece without a name continues the previous one
        if items and not requirement_name(piece):
            items[-1] += "," + piece.strip()
        elif piece.strip():
            items.append(piece.strip())
    return items
