"""The answer parser and diff repair on what models really send (pure; git applies the results)."""

from __future__ import annotations

import json
import subprocess

import pytest

from harness.config import EditFormat
from harness.loop.diffs import edits_to_diff, normalize_diff
from harness.loop.edits import parse_answer, split_reasoning
from harness.providers.runaway import RepetitionDetector, repeating

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
UTIL = "def double(x):\n    return x + x\n\n\ndef half(x):\n    return x * 2\n"
SRC = {"calc.py": CALC, "util.py": UTIL}
TWO_FILES = ("--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
             "--- a/util.py\n+++ b/util.py\n@@ -5,2 +5,2 @@\n def half(x):\n-    return x * 2\n+    return x / 2\n")


def git_apply(tmp_path, files: dict, patch: str) -> dict:
    """Apply ``patch`` the way the evaluator does (git apply --recount) to a fresh repo of ``files``."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    done = subprocess.run(["git", "apply", "-p1", "--recount", "--whitespace=nowarn"], cwd=tmp_path,
                          input=patch.encode(), capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    return {p.name: p.read_text() for p in tmp_path.iterdir() if p.is_file()}


def test_one_sided_context_is_widened_from_the_file_shown(tmp_path):
    """git anchors a hunk with no trailing context to the file's end; the repair adds context from the file."""
    text = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    after = git_apply(tmp_path, SRC, normalize_diff(text, SRC))
    assert after["calc.py"] == CALC.replace("a - b", "a + b")


def test_a_two_file_diff_without_git_headers_applies_to_both_files(tmp_path):
    """Regression: --recount read util.py's ---/+++ header as lines of calc.py's hunk.

    Each file now gets a git header.
    """
    candidate = parse_answer(f"```diff\n{TWO_FILES}```", EditFormat.DIFF, SRC)
    assert candidate.patch.count("diff --git ") == 2
    after = git_apply(tmp_path, SRC, candidate.patch)
    assert "return a + b" in after["calc.py"] and "return x / 2" in after["util.py"]


def test_diff_repair_recounts_hunks_fills_line_numbers_and_marks_new_files(tmp_path):
    """Wrong counts, a bare @@ without numbers, blanked context lines and a new file all apply."""
    text = ("--- calc.py\n+++ calc.py\n@@ -1,9 +1,9 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n\n\n"
            " def mul(a, b):\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+X = 1\n"
            "--- a/util.py\n+++ b/util.py\n@@\n def half(x):\n-    return x * 2\n+    return x / 2\n")
    patch = normalize_diff(text, SRC)
    assert "new file mode 100644" in patch and "\n@@\n" not in patch
    after = git_apply(tmp_path, SRC, patch)
    assert after["new.py"] == "X = 1\n" and "return a + b" in after["calc.py"] and "x / 2" in after["util.py"]


def test_a_diff_inside_think_is_not_the_answer():
    """Regression: the diff after </think> is the answer; the one drafted inside the reasoning is not."""
    draft = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return 0\n"
    final = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    text = f"<think>\nMaybe:\n```diff\n{draft}```\nNo, wrong.\n</think>\n\n```diff\n{final}```\n"
    candidate = parse_answer(text, EditFormat.DIFF, SRC)
    assert "+    return a + b" in candidate.patch and "return 0" not in candidate.patch
    answer, reasoning = split_reasoning(text)
    assert "return 0" in reasoning and "return 0" not in answer


@pytest.mark.parametrize("text,answer", [
    ("<think>unfinished thought", ""),
    ("thinking opened in the prompt</think>the answer", "the answer"),
    ("<THINKING>x</THINKING>y", "y"),
])
def test_reasoning_blocks_in_every_shape_are_split_off(text, answer):
    """An unclosed <think> (cut answer) and a lone </think> (template-opened) are reasoning too."""
    assert split_reasoning(text)[0] == answer


def test_a_search_block_without_a_path_line_never_takes_the_fence_language():
    """Regression: ```python was taken as the path; the file is found by its content (or the previous block's)."""
    text = "Fix:\n```python\n<<<<<<< SEARCH\n    return x * 2\n=======\n    return x / 2\n>>>>>>> REPLACE\n```\n"
    candidate = parse_answer(text, EditFormat.SEARCH_REPLACE, SRC)
    assert candidate.usable and list(candidate.edits) == ["util.py"]
    ambiguous = "```python\n<<<<<<< SEARCH\ndef \n=======\ndef \n>>>>>>> REPLACE\n```\n"
    assert parse_answer(ambiguous, EditFormat.SEARCH_REPLACE, SRC).failure.value == "format-violation"


def test_a_files_json_without_files_writes_nothing():
    """Regression: {"path": ..., "content": ...} wrote files named 'path' and 'content'; it is a format violation."""
    text = json.dumps({"path": "calc.py", "content": CALC.replace("a - b", "a + b")})
    assert parse_answer(text, EditFormat.FILES, SRC).failure.value == "format-violation"


@pytest.mark.parametrize("fmt,text", [
    (EditFormat.SEARCH_REPLACE,
     "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"),
    (EditFormat.DIFF, "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
                      "+    return a + b\n```\n"),
    (EditFormat.FILES, '{"files": {"calc.py": "def add(a, b):\\n    return a + b\\n"}}'),
])
def test_crlf_answers_parse_like_lf_answers(fmt, text):
    """Regression: an answer whose lines end in CRLF (Windows-side servers, some proxies) is not a format violation."""
    candidate = parse_answer(text.replace("\n", "\r\n"), fmt, SRC)
    assert candidate.usable, candidate.message
    assert "\r" not in candidate.patch and all("\r" not in (v or "") for v in candidate.edits.values())


def test_edits_render_as_a_git_diff_that_applies(tmp_path):
    """Whole-file edits become the git diff a SWE-bench prediction carries: modified, new and deleted files."""
    edits = {"calc.py": CALC.replace("a - b", "a + b"), "new.py": "N = 1", "util.py": None}
    patch = edits_to_diff({**SRC, "new.py": None}, edits)
    after = git_apply(tmp_path, SRC, patch)
    assert "a + b" in after["calc.py"] and after["new.py"] == "N = 1" and "util.py" not in after


def test_runaway_detection_needs_a_long_exact_repetition():
    """A line repeated for 1,500+ characters is a runaway; code with similar lines is not."""
    code = "".join(f"    x{i} = compute({i})\n" for i in range(400))
    assert not repeating(code)
    assert repeating("Answer:\n" + "I will fix the bug.\n" * 120)
    assert repeating("ok " + "\n" * 3000)
    detector = RepetitionDetector()
    fed = [detector.feed("the same line again\n") for _ in range(200)]
    assert fed[-1] and fed.index(True) < 120
