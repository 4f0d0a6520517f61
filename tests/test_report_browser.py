"""The HTML report in a real browser: headless Chromium at 1280 px (a laptop) and 390 px (a phone).

Layout is read from the rendered page (getBoundingClientRect, scroll widths), never from the HTML
text: every chart mark must sit inside its chart and the page, every table column must be
reachable (inside the page, or inside its own scrolling box with the first column still shown),
and the page itself must not scroll sideways — with every attempt in the per-task view opened.
"""

from __future__ import annotations

import json

import pytest

from browser import Chromium, file_url, find_chromium
from harness.config import ProviderKind, Tier
from harness.modes import FailureMode
from harness.names import Strategy
from harness.providers.completion import Completion
from harness.records.attempts import TASKS_FILE, AttemptRecord, RunLog
from harness.report.render import write_report
from harness.results.classes import ClassKind
from harness.run import RunSpec, open_run_dir
from taskset.record import Task

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (Debian package `chromium`; "
                                                         ".ci/run installs it)")

TIERS = (Tier(name="local", model="qwen", provider=ProviderKind.OPENAI, base_url="http://127.0.0.1:9/v1",
              price_input=0.0, price_output=0.0),
         Tier(name="o3", model="o3", provider=ProviderKind.OPENAI, base_url="http://127.0.0.1:9/v1", attempts=2,
              feedback=True, price_input=2.0, price_output=8.0),
         Tier(name="gpt-5.5", model="gpt-5.5", provider=ProviderKind.OPENAI, base_url="http://127.0.0.1:9/v1",
              price_input=5.0, price_output=20.0))
SOLVED_BY = ["local", "local", "local", "o3", "o3", "o3@2", "gpt-5.5", "", "local", "o3"]
"""Who first solves each task (``o3@2``: o3's second attempt; "": nobody)."""
LONG = "E   AssertionError: " + "a very long line of test output without any break " * 12 + "\n"


def record(task: str, tier: Tier, number: int, resolved: bool, strategy: Strategy = Strategy.MATRIX):
    """One attempt as harness run writes it, tokens enough that costs differ between strategies."""
    tokens = {"local": (2000, 600), "o3": (3000, 1800), "gpt-5.5": (4000, 1500)}[tier.name.split("+")[0]]
    return AttemptRecord(task=task, strategy=strategy, seed=42, tier=tier.name, attempt=number,
                         model_requested=tier.model, model_answered=tier.model, prompt_tokens=tokens[0],
                         completion_tokens=tokens[1], latency=3.5, ttft=0.4, tokens_per_second=55.0,
                         failure_mode=FailureMode.RESOLVED if resolved else FailureMode.TESTS_FAILED,
                         feedback="" if resolved else LONG, paid=tier.paid, prompt_chars=9000)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A run directory with every strategy's columns filled, reported --by size."""
    out = tmp_path_factory.mktemp("browser") / "runs" / "a-run-with-a-long-name-local-o3-gpt-5.5"
    tasks = [Task(instance_id=f"someowner__somerepository-{i:012d}", repo="someowner/somerepository",
                  repo_url="/nowhere", base_commit="0" * 40, fix_commit="1" * 40, created_at="", patch="",
                  test_patch="", problem_statement="", FAIL_TO_PASS=(), PASS_TO_PASS=()) for i in range(10)]
    spec = RunSpec(taskset=out.parent, out=out, tiers=TIERS, strategies=("modeE", "always-local", "always-frontier",
                                                                         "local-repair", "heuristic", "cascade"))
    out.mkdir(parents=True)
    open_run_dir(spec, tasks)
    log = RunLog(out)
    repair = Tier(name="local+repair", model="qwen", attempts=3, feedback=True, price_input=0.0, price_output=0.0)
    for i, task in enumerate(tasks):
        who = SOLVED_BY[i]
        for tier in TIERS:
            for number in range(1, tier.attempts + 1):
                solved = who == tier.name and number == 1 or who == f"{tier.name}@{number}" or (
                    tier.name == "gpt-5.5" and who != "")
                log.append(record(task.instance_id, tier, number, solved))
                answer = "calc.py\n<<<<<<< SEARCH\n" + "x = 1\n" * 40 + "=======\n>>>>>>> REPLACE"
                completion = Completion(content=answer, reasoning="thinking " * 200)
                log.save_answer((Strategy.MATRIX.value, task.instance_id, 42, tier.name, number), completion)
                if solved:
                    break
        for number in range(2, 4):
            log.append(record(task.instance_id, repair, number, i == 7 and number == 3, Strategy.LOCAL_REPAIR))
            if i == 7 and number == 3:
                break
        size = "1-5 lines" if i % 3 else "21-50 lines"
        with (out / TASKS_FILE).open("a") as lines:
            lines.write(json.dumps({"task": task.instance_id, "features": {"score": 4.0 * i},
                                    "classes": {"repo": task.repo, "difficulty": "medium", "size": size,
                                                "files": "1 file"}}) + "\n")
    html, _ = write_report(out, by=ClassKind.SIZE)
    return html


CHECK = """
(() => {
  const page = document.documentElement.clientWidth;
  const problems = [];
  let marks = 0, columns = 0;
  const within = (r, left, right) => r.left >= left - 0.5 && r.right <= right + 0.5;
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  if (document.documentElement.scrollWidth > page + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px in ${page}`);
  document.querySelectorAll('svg').forEach((svg, n) => {
    const box = svg.getBoundingClientRect();
    if (!within(box, 0, page)) problems.push(`chart ${n} spans ${box.left}..${box.right} of ${page}`);
    svg.querySelectorAll('title').forEach(title => {
      const r = title.parentElement.getBoundingClientRect();
      marks += 1;
      if (!within(r, box.left, box.right) || !within(r, 0, page) || r.width === 0)
        problems.push(`chart ${n} mark "${title.textContent}" at ${r.left}..${r.right} of ${box.left}..${box.right}`);
    });
  });
  document.querySelectorAll('table').forEach((table, n) => {
    const scroller = table.closest('.scroll');
    const cells = Array.from(table.rows[0].cells);
    if (!scroller) {
      cells.forEach(c => { columns += 1; if (!within(c.getBoundingClientRect(), 0, page))
        problems.push(`table ${n} column "${c.textContent}" is outside the page`); });
      return;
    }
    const box = scroller.getBoundingClientRect();
    if (!within(box, 0, page)) problems.push(`table ${n}'s box spans ${box.left}..${box.right} of ${page}`);
    const first = cells[0];
    cells.forEach((cell, i) => {
      columns += 1;
      // scroll the box until the column's right edge shows, as a reader would
      const right = cell.getBoundingClientRect().right - box.left + scroller.scrollLeft;
      scroller.scrollLeft = Math.max(0, right - box.width);
      const r = cell.getBoundingClientRect();
      const sticky = first.getBoundingClientRect();
      if (r.right > box.right + 0.5 || r.left < box.left - 0.5)
        problems.push(`table ${n} column "${cell.textContent}" cannot be scrolled into view`);
      if (i > 0 && r.width <= box.width - sticky.width && r.left < sticky.right - 0.5)
        problems.push(`table ${n} column "${cell.textContent}" stays under the first column`);
      if (sticky.left < box.left - 0.5) problems.push(`table ${n}: the first column scrolls away`);
    });
    scroller.scrollLeft = 0;
  });
  const first = document.querySelector('.scroll');
  const fit = first.scrollWidth <= first.clientWidth;
  return {problems, marks, columns, page, shown: window.innerWidth, strategies_fit: fit};
})()
"""


@pytest.mark.parametrize("width, mobile", [(1280, False), (390, True)], ids=["laptop-1280", "phone-390"])
def test_every_chart_mark_and_table_column_is_reachable(report, width, mobile):
    """At 1280 px and on a 390 px phone, nothing is clipped by the page: marks inside their charts,
    each column inside the page or its own scrolling box (first column fixed), no sideways page scroll."""
    assert CHROMIUM is not None
    with Chromium(CHROMIUM) as browser:
        found = browser.evaluate(file_url(report), CHECK, width=width, mobile=mobile)
    assert found["shown"] == width  # a phone zooms out of a page wider than its screen: not here
    assert found["problems"] == []
    assert found["marks"] >= 20 and found["columns"] >= 100  # the checks saw the charts and the tables
    if width >= 1280:  # on a laptop the 15 columns of the strategies table fit without scrolling
        assert found["strategies_fit"]
