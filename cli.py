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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loopctl")
def cli():
    """loopctl: mine verified bug-fix tasks from Git history and run tiered model escalation.

    \b
    mine       turn a repository's history into tasks proven by their own tests
    calibrate  rerun tasks until they can be trusted; label difficulty
    harness    run models against tasks, escalating tiers only when the tests reject
    evaluate   judge a candidate patch against a task's tests
    export     write a task set as SWE-bench JSONL (or import one)
    """


# --- mine ---
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
    ids = _calibrate_split(task_ids)
    todo = pending(tasks, ids=ids, force=force)
    done = 0
    with _calibrate_progress("calibrating", len(todo)) as advance:
        for _ in calibrate_tasks(tasks, todo, runs=runs, jobs=jobs, timeout=timeout):
            advance()
            done += 1
    if tiers:
        from harness import load_tiers
        from harness.difficulty import label_tasks, needing_labels

        ladder = load_tiers(_calibrate_split(tiers), config)
        todo = needing_labels(tasks, ladder, samples=samples, ids=ids, force=force)
        with _calibrate_progress("labelling difficulty", len(todo)) as advance:
            for _ in label_tasks(tasks, todo, ladder, samples=samples, jobs=jobs):
                advance()
    summary = summarize(tasks, calibrated_now=done)
    write_summary(taskset_dir, summary)
    click.echo(json.dumps(summary.to_dict(), sort_keys=True) if as_json else format_summary(summary))


def _calibrate_split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


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
# --- end harness ---

# --- evaluate ---
# --- end evaluate ---


# --- export ---
@cli.command("export")
@click.argument("taskset_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["swebench"]), default="swebench", show_default=True,
              help="Output format.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The JSONL file to write.")
@click.option("--import", "import_", is_flag=True,
              help="Reverse direction: read SWE-bench JSONL from --out into TASKSET_DIR.")
@reports_errors
def export_cmd(taskset_dir: Path, fmt: str, out: Path, import_: bool):
    """Export TASKSET_DIR as SWE-bench JSONL, or with --import read one into TASKSET_DIR."""
    import taskset

    if import_:
        target = taskset.TaskSet.open(taskset_dir, create=True)
        count = 0
        for task in taskset.import_jsonl(out):
            target.add(task)
            count += 1
        click.echo(f"imported {count} tasks from {out} into {taskset_dir}")
        return
    count = taskset.export_jsonl(taskset.load(taskset_dir), out)
    click.echo(f"exported {count} tasks to {out} ({fmt})")
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
