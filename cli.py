"""Command-line wiring: parse options, call the packages, print, set exit codes. No logic lives here.

Each command's section is marked; the library it calls raises its own errors (TasksetError,
MinerError, HarnessError), which become one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

EXIT_USAGE = 2


class Failure(click.ClickException):
    """A library error shown as one line, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


def reports_errors(command):
    """Turn the packages' own errors into one line and exit 2 (never a traceback for bad input)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from harness.errors import HarnessError
        from miner.errors import MinerError
        from taskset.errors import TasksetError

        try:
            return command(*args, **kwargs)
        except (TasksetError, MinerError, HarnessError) as exc:
            raise Failure(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted: everything finished so far is saved; rerun to resume", err=True)
            sys.exit(130)

    return wrapper


def split_csv(value: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: the comma-separated lists several options take."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loopctl")
def cli():
    """loopctl: mine verified bug-fix tasks from Git history and run tiered model escalation.

    \b
    mine       turn a repository's history into tasks proven by their own tests
    calibrate  rerun tasks until they can be trusted; label difficulty
    harness    run models against tasks, escalating tiers only when the tests reject
    evaluate   judge a candidate patch against a task's tests
    export     write a task set for SWE-bench 5 (rows or a task repository), or import theirs
    """


# --- mine ---
@cli.command("mine")
@click.option("--repo", required=True, help="Repository URL, local path or git bundle.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("taskset"), show_default=True,
              help="Task set directory (tasks/, index.json, rejections.jsonl).")
@click.option("--since", help="First commit to consider: a date (YYYY-MM-DD) or a revision; inclusive.")
@click.option("--until", help="Last commit to consider: a date or a revision; inclusive.")
@click.option("--commit", "commits", multiple=True, help="Mine exactly this commit (repeatable).")
@click.option("--branch", help="Branch to walk (default: the repository's HEAD).")
@click.option("--merges", is_flag=True, help="Also consider merge commits (diffed against their first parent).")
@click.option("--max-candidates", type=click.IntRange(min=0), help="Validate at most N new candidates, best score first.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Candidates validated in parallel, each in its own workspace.")
@click.option("--python", "python", help="Interpreter for the task environments (default: this one).")
@click.option("--reruns", type=click.IntRange(min=1), default=2, show_default=True,
              help="Gold runs per candidate; a FAIL_TO_PASS test that flips between them is flaky.")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds per test run.")
@click.option("--test-dir", "test_dirs", multiple=True,
              help="Directory name holding tests (repeatable; replaces tests, test, testing).")
@click.option("--test-glob", "test_globs", multiple=True,
              help="Test file-name glob (repeatable; replaces test_*.py, *_test.py, conftest.py).")
@click.option("--name", help="owner/name to record for the tasks (default: from the URL; local/<dir> for paths).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@reports_errors
def mine_cmd(repo, out, since, until, commits, branch, merges, max_candidates, jobs, python, reruns, timeout,
             test_dirs, test_globs, name, as_json):
    """Turn a repository's history into tasks proven by their own tests."""
    from miner import MineConfig, ValidateConfig, conventions, mine

    validate = ValidateConfig(reruns=reruns, timeout=timeout, conventions=conventions(test_dirs, test_globs),
                              **({"python": python} if python else {}))
    config = MineConfig(repo=repo, out=out, branch=branch, since=since, until=until, commits=tuple(commits),
                        merges=merges, max_candidates=max_candidates, jobs=jobs, name=name, validate=validate)
    summary = mine(config, progress=not as_json and sys.stderr.isatty())
    click.echo(summary.to_json() if as_json else summary.text())
# --- end mine ---

# --- calibrate ---
@cli.command("calibrate")
@click.argument("taskset_dir", type=click.Path(path_type=Path))
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Reruns of the buggy and the gold code per task.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Tasks calibrated in parallel (one process each).")
@click.option("--tiers", default=None, help="Harness tiers that label difficulty, in ladder order (local,o3,gpt-5.5).")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Attempts per tier per task when labelling difficulty.")
@click.option("--config", type=click.Path(path_type=Path), default=None, help="Tiers config (TOML) for --tiers.")
@click.option("--task-ids", default=None, help="Comma-separated instance ids (default: every task).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds per test run (default: the evaluator's).")
@click.option("--force", is_flag=True, help="Redo tasks that are already calibrated (or labelled).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@reports_errors
def calibrate_cmd(taskset_dir: Path, runs: int, jobs: int, tiers: str | None, samples: int, config: Path | None,
                  task_ids: str | None, timeout: float | None, force: bool, as_json: bool):
    """Rerun the tasks of TASKSET_DIR until they can be trusted; with --tiers, label their difficulty.

    Statuses: ok, flaky, bad-test, broken, env-failed. Interrupted runs resume where they
    stopped; the summary is printed and written to TASKSET_DIR/calibration.json.
    """
    import json

    import taskset
    from taskset.calibrate import calibrate_tasks, pending
    from taskset.calibration_summary import format_summary, summarize, write_summary

    tasks = taskset.load(taskset_dir)
    ids = list(split_csv(task_ids)) or None
    todo = pending(tasks, ids=ids, force=force)
    done = 0
    with _calibrate_progress("calibrating", len(todo)) as advance:
        for _ in calibrate_tasks(tasks, todo, runs=runs, jobs=jobs, timeout=timeout):
            advance()
            done += 1
    if tiers:
        from harness import load_tiers
        from harness.difficulty import label_tasks, needing_labels

        ladder = load_tiers(list(split_csv(tiers)), config)
        todo = needing_labels(tasks, ladder, samples=samples, ids=ids, force=force)
        with _calibrate_progress("labelling difficulty", len(todo)) as advance:
            for _ in label_tasks(tasks, todo, ladder, samples=samples, jobs=jobs):
                advance()
    summary = summarize(tasks, calibrated_now=done)
    write_summary(taskset_dir, summary)
    click.echo(json.dumps(summary.to_dict(), sort_keys=True) if as_json else format_summary(summary))


def _calibrate_progress(label: str, total: int):
    """A rich progress bar on stderr (stdout stays clean for --json); yields its advance()."""
    import contextlib

    from rich.console import Console
    from rich.progress import Progress

    @contextlib.contextmanager
    def bar():
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(label, total=total)
            yield lambda: progress.advance(task)

    return bar()
# --- end calibrate ---

# --- harness ---
@cli.group("harness")
def harness_group():
    """Run models against tasks, escalating tiers only when the tests reject their work."""


@harness_group.command("run")
@click.option("--taskset", "taskset_dir", type=click.Path(path_type=Path), required=True, help="The task set directory.")
@click.option("--tiers", default="local,o3,gpt-5.5", show_default=True, help="The ladder, bottom first (comma-separated).")
@click.option("--strategies", default="modeE,always-local,always-frontier,local-repair,heuristic", show_default=True,
              help="Strategies to compare (oracle-routing is always computed).")
@click.option("--seeds", default="42", show_default=True, help="Comma-separated seeds.")
@click.option("--task-ids", default="", help="Only these tasks (comma-separated instance ids).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Tasks run in parallel.")
@click.option("--max-cost", type=float, default=None, help="Stop starting paid attempts at this many dollars.")
@click.option("--config", type=click.Path(path_type=Path), default=None, help="Tiers TOML (default: ./loopctl.toml).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (default: runs/<tiers>).")
@click.option("--uncalibrated", is_flag=True,
              help="Also run tasks calibration has not seen (default: only tasks calibrated ok).")
@reports_errors
def harness_run(taskset_dir, tiers, strategies, seeds, task_ids, jobs, max_cost, config, out, uncalibrated):
    """Run (or resume) the tiers on a task set; records go to OUT/attempts.jsonl."""
    from rich.console import Console

    import harness
    from harness.report import tables
    from harness.run import RunSpec, run
    from harness.summary import write_summary

    conf = harness.load_config(config)
    ladder = conf.select(split_csv(tiers))
    for warning in harness.price_warnings(ladder):
        click.echo(f"warning: {warning}", err=True)
    try:
        seed_list = tuple(int(s) for s in split_csv(seeds))
    except ValueError:
        raise click.BadParameter("expected comma-separated integers", param_hint="--seeds") from None
    out = out or Path("runs") / "-".join(t.name for t in ladder)
    spec = RunSpec(taskset=taskset_dir, out=out, tiers=tuple(ladder), strategies=split_csv(strategies), seeds=seed_list,
                   task_ids=split_csv(task_ids), jobs=jobs, max_cost=max_cost, max_attempts=conf.max_attempts,
                   carry_over=conf.carry_over, include_uncalibrated=uncalibrated)
    result = run(spec)
    for note in result.notes:
        click.echo(note, err=True)
    console = Console()
    for table in tables(write_summary(out)):
        console.print(table)
    click.echo(f"{result.new_attempts} new attempts ({result.resumed_attempts} already recorded) in {out}")


@harness_group.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="Re-price with this TOML's tier prices instead of the run's pinned table.")
@reports_errors
def harness_report(run_dir, config):
    """Write RUN_DIR/summary.json, report.html and report.md, and print the tables."""
    from rich.console import Console

    import harness
    from harness.report import tables, write_report
    from harness.run import run_tiers
    from harness.summary import load_summary

    prices = harness.load_config(config).select([t.name for t in run_tiers(run_dir)]) if config else None
    html, md = write_report(run_dir, prices)
    console = Console()
    for table in tables(load_summary(run_dir)):
        console.print(table)
    click.echo(f"wrote {html} and {md}")
# --- end harness ---

# --- evaluate ---
@cli.command("evaluate")
@click.argument("taskset_dir", type=click.Path(path_type=Path))
@click.argument("instance_id")
@click.option("--patch", "patch_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A diff to judge.")
@click.option("--gold", is_flag=True, help="Judge the task's own fix (should resolve).")
@click.option("--empty", is_flag=True, help="Judge the unchanged buggy code (should not resolve).")
@click.option("--timeout", type=float, default=None, help="Seconds for the test run (default: from the task).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@reports_errors
def evaluate_cmd(taskset_dir: Path, instance_id: str, patch_file: Path | None, gold: bool, empty: bool,
                 timeout: float | None, as_json: bool):
    """Judge a candidate patch against INSTANCE_ID's tests; exit 0 when resolved, 1 when not."""
    import json

    import taskset
    from taskset.evaluate import evaluate

    if sum((patch_file is not None, gold, empty)) != 1:
        raise click.UsageError("give exactly one of --patch FILE, --gold, --empty")
    task = taskset.load(taskset_dir)[instance_id]
    if gold:
        patch = task.patch
    elif empty:
        patch = ""
    else:
        patch = patch_file.read_text(encoding="utf-8", errors="surrogateescape")
    verdict = evaluate(task, patch=patch, timeout=timeout)
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), indent=2))
    else:
        click.echo(f"{verdict.instance_id}: {verdict.problem.value} ({verdict.duration:.1f}s)")
        for label, outcomes in (("FAIL_TO_PASS", verdict.fail_to_pass), ("PASS_TO_PASS", verdict.pass_to_pass)):
            for test, outcome in outcomes.items():
                click.echo(f"  {label}  {outcome.value:<8} {test}")
        if not verdict.resolved:
            click.echo("\n" + verdict.feedback)
    sys.exit(0 if verdict.resolved else 1)
# --- end evaluate ---


# --- export ---
@cli.command("export")
@click.argument("taskset_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["swebench", "swebench-repo"]), default="swebench",
              show_default=True,
              help="swebench: SWE-bench 5 rows, one per line (--out FILE.jsonl); swebench-repo: a SWE-bench "
                   "task repository with a Dockerfile per task (--out DIR).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The file or directory to write; with --import, the dataset file to read "
                   "(.jsonl, .json array or .parquet).")
@click.option("--import", "import_", is_flag=True,
              help="Reverse direction: read a SWE-bench dataset file (--out) into TASKSET_DIR, all rows or none.")
@click.option("--clone-from", default="",
              help="With --import: where this machine clones the tasks' repository from (path, bundle or URL) "
                   "when their repo_url is not reachable or empty.")
@click.option("--dataset", default="", help="swebench-repo: the dataset sweb.yaml names (default: loopctl/<out name>).")
@reports_errors
def export_cmd(taskset_dir: Path, fmt: str, out: Path, import_: bool, clone_from: str, dataset: str):
    """Export TASKSET_DIR for SWE-bench 5, or with --import read a SWE-bench dataset into TASKSET_DIR.

    Exports are written beside OUT and renamed into place: a failure leaves any previous export
    as it was. Tasks SWE-bench cannot grade are skipped and named on stderr.
    """
    import taskset

    if import_:
        count = taskset.import_swebench(out, taskset_dir, clone_from=clone_from)
        click.echo(f"imported {count} tasks from {out} into {taskset_dir}")
        return
    tasks = list(taskset.load(taskset_dir))
    if fmt == "swebench-repo":
        result = taskset.export_task_repo(tasks, out, dataset=dataset)
    else:
        result = taskset.export_jsonl(tasks, out)
    for instance_id, reason in result.skipped:
        click.echo(f"skipped {instance_id}: {reason}", err=True)
    click.echo(f"exported {result.written} tasks to {out} ({fmt})")
# --- end export ---


def main():
    """Entry point of the ``loopctl`` console script."""
    cli()


def _direct(name: str):
    """Entry point for a direct console script (``mine`` is ``loopctl mine``)."""

    def entry():
        command = cli.commands[name]
        command.main(prog_name=name)

    return entry


mine_main = _direct("mine")
calibrate_main = _direct("calibrate")
harness_main = _direct("harness")

if __name__ == "__main__":
    main()
