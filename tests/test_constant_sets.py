"""The per-test integrity check (loopctl_integrity's ``_same``) compares a set literal's members,
not the order they iterate in.

On Python 3.9 and 3.10, compiling one text twice in a process, while the first compile's code is
alive (the imported test module's is), can give a set literal's frozenset constant another
iteration order: cpburnz/python-pathspec 4851907832's honest test
``test_03_parent_double_asterisk`` (``{'spam', 'foo/spam', 'foo/spam/bar'}``, seed 0) was judged
"its function's code is not what tests/test_gitwildmatch.py compiles to". The check runs in the
test interpreter, so it is exercised there: an installed 3.10 or 3.9, else the test skips.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from taskset.env.pythons import find_python

PLUGIN = Path(__file__).resolve().parents[1] / "taskset" / "evaluation" / "_pytest_plugin"

TEST_MODULE = """\
def test_parent(pattern):
    results = set(pattern.match([
        'spam',
        'foo/spam',
        'foo/spam/bar',
    ]))
    assert results == {
        'spam',
        'foo/spam',
        'foo/spam/bar',
    }
"""

CHECK = """\
import importlib.util, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import loopctl_integrity as li
path = sys.argv[2]
spec = importlib.util.spec_from_file_location("test_sets", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)  # imported first, as pytest does; its code stays alive
code = module.test_parent.__code__
reference = li._reference_codes(path, False, None)[(code.co_name, code.co_firstlineno)]
tampered = compile(open(path).read().replace("'foo/spam/bar',\\n    }", "'foo/spam/baz',\\n    }"),
                   path, "exec", dont_inherit=True)
other = [c for c in tampered.co_consts if hasattr(c, "co_code")][0]
print(li._same(code, reference), li._same(other, reference))
"""


def _old_python() -> Path | None:
    for version in ("3.10", "3.9"):
        found = find_python(version)
        if found is not None:
            return found
    return None


def test_a_set_literal_compiled_twice_is_the_same_code_and_another_member_is_not(tmp_path):
    python = _old_python()
    if python is None:
        pytest.skip("no Python 3.10 or 3.9 installed: the order differs only there")
    module = tmp_path / "test_sets.py"
    module.write_text(TEST_MODULE)
    run = subprocess.run([str(python), "-c", CHECK, str(PLUGIN), str(module)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "False"], run.stdout
