"""The problem statement a model sees: commit subject, failing test names, trimmed failure output.

Rendered from ``templates/problem_statement.md.j2``. It must not leak the fix: every line of the
rendered text that repeats a line the gold patch adds or removes is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jinja2

from miner.split import changed_lines

OUTPUT_LIMIT = 4000
"""Characters of buggy-run failure output kept in the statement and the record."""

PER_TEST_LIMIT = 1500

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("miner", "templates"),
    autoescape=False,  # Markdown text, not HTML
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def failure_output(messages: Mapping[str, str]) -> str:
    """The FAIL_TO_PASS tests' buggy-run failure text, one block per test, trimmed."""
    blocks = []
    for test, message in messages.items():
        text = message.strip()
        if len(text) > PER_TEST_LIMIT:
            text = "...\n" + text[-PER_TEST_LIMIT:]
        blocks.append(f"___ {test} ___\n{text}")
    joined = "\n\n".join(blocks)
    return joined if len(joined) <= OUTPUT_LIMIT else joined[:OUTPUT_LIMIT] + "\n[... cut ...]"


def render(subject: str, tests: Sequence[str], output: str, patch: str, body: str = "") -> str:
    """The problem statement, with every line that repeats a gold-patch line removed."""
    text = _ENV.get_template("problem_statement.md.j2").render(
        subject=subject.strip(), body=body.strip(), tests=list(tests), failure_output=output.strip()
    )
    return scrub(text, patch)


def scrub(text: str, patch: str) -> str:
    """Drop the lines of ``text`` that contain a non-blank line the patch adds or removes."""
    leaks = {line.strip() for line in changed_lines(patch) if len(line.strip()) >= 4}
    kept = [line for line in text.splitlines() if not _leaks(line, leaks)]
    return "\n".join(kept).strip() + "\n"


def _leaks(line: str, leaks: set[str]) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    return stripped in leaks or any(leak in stripped for leak in leaks if len(leak) >= 12)
