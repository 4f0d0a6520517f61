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
