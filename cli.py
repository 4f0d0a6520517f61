"""Command-line wiring: parse options, call the packages, print, set exit codes. No logic lives here.

Each command's section is marked; the library it calls raises its own errors (TasksetError,
MinerError, CalibrateError, HarnessError) or an OSError, which become one line on stderr and exit
code 2. Ctrl-C and SIGTERM keep what finished and exit 130. Long work reports to a
``taskset.jobs.progress.Progress``; :class:`TerminalProgress` draws it here.
"""

from __future__ import annotations

import errno
import functools
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3
"""The machine failed (interpreter, disk, package index): nothing was recorded for the work it hit."""
EXIT_INTERRUPTED = 130
CONTEXT = {"help_option_names": ["-h", "--help"]}


class Failure(click.ClickException):
    """A library error shown as one line: exit 2 (``InfrastructureFailure``: 3)."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


class InfrastructureFailure(Failure):
    """The machine (not the input) failed: exit 3, rerun to retry."""

    exit_code = EXIT_INFRASTRUCTURE


class _OneLineUsage:
    """Usage errors as one line too: ``error: <what> (see 'mine --help')`` and exit 2.

    Click's own form is three lines (the usage, a hint, the error); every other error here is one.
    Mixed into the group and every command, so the console scripts and ``loopctl NAME`` agree.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # a bare group: its help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else (prog_name or "loopctl")
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:  # Ctrl-C outside a command's own handling (while parsing)
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        # without standalone mode click returns ctx.exit's code (--help, --version), else None
        sys.exit(code if isinstance(code, int) else 0)


class Command(_OneLineUsage, click.Command):
    """A loopctl command: usage errors in one line."""


class Group(_OneLineUsage, click.Group):
    """A loopctl command group: usage errors in one line; its commands and subgroups are alike."""

    command_class = Command
    group_class = type  # subgroups are of this class too


def _error_roots() -> tuple[type[BaseException], ...]:
    """Every package's one exception root, and OSError (a path that is a file, a read-only disk...)."""
    from calibrate.errors import CalibrateError
    from harness.errors import HarnessError
    from miner.errors import MinerError
    from taskset.errors import TasksetError

    return (TasksetError, MinerError, CalibrateError, HarnessError, OSError)


def one_line(exc: BaseException) -> str:
    """An error as one line: OSError as ``path: reason``, the packages' errors as their message."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename is not None else ""
        text = f"{where}{exc.strerror}"
    else:
        text = " ".join(str(exc).split()) or type(exc).__name__
    if _passing(exc):
        text = f"the machine failed, not the work: {text} (nothing was recorded for it; rerun to retry)"
    return text


MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})
"""OSErrors that are the machine's (a full or failing disk), not the input's: exit 3."""


def _passing(exc: BaseException) -> bool:
    """An infrastructure failure a rerun may not meet again (disk, network, a damaged cache): exit 3.

    A missing interpreter or sandbox is the setup's, not a passing failure: like bad input, it is
    exit 2 until the user changes something.
    """
    from taskset.errors import InfraCause, InfrastructureError

    if isinstance(exc, OSError):
        return exc.errno in MACHINE_ERRNOS
    return isinstance(exc, InfrastructureError) and exc.cause not in (InfraCause.INTERPRETER, InfraCause.SANDBOX)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def reports_errors(command):
    """Errors to one line and exit 2 (3 for the machine's failures; never a traceback); Ctrl-C and SIGTERM to 130."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        # SIGTERM (a cluster's or a supervisor's stop) ends the work the way Ctrl-C does
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return command(*args, **kwargs)
        except _error_roots() as exc:
            failure = InfrastructureFailure if _passing(exc) else Failure
            raise failure(one_line(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted: everything finished so far is saved; rerun to resume", err=True)
            sys.exit(EXIT_INTERRUPTED)
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


def split_csv(value: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: the comma-separated lists several options take."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the result as one JSON object on stdout (progress stays on stderr).")
"""The one ``--json`` flag every command that reports a result takes."""


backend_option = click.option(
    "--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
    help="Where the units of work run: this machine's process pool, or a Ray cluster (RAY_ADDRESS, else a Ray "
         "cluster started on this machine, else a new local Ray instance; needs pip install 'loopctl[ray]'). "
         "Results come back here and only this process writes them.")
"""The one ``--backend`` option of mine, calibrate and harness run."""


def echo_json(data) -> None:
    """One JSON object on stdout."""
    import json

    click.echo(json.dumps(data, sort_keys=True))


class TerminalProgress:
    """The library's Progress (taskset.jobs.progress) drawn with rich on stderr.

    The bar shows only on a terminal and never with ``--json``; notes are always printed.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._tally: dict[str, int] = {}
        self._status = ""

    def __enter__(self) -> TerminalProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TextColumn("{task.fields[tally]}"), TextColumn("{task.fields[status]}"))
            self._bar = Progress(*columns, console=Console(stderr=True), transient=True)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)

    def phase(self, description: str, total: int | None = None) -> None:
        self._tally.clear()
        if self._bar is None:
            return
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total, tally="", status=self._status)

    def advance(self, label: str = "") -> None:
        if label:
            self._tally[label] = self._tally.get(label, 0) + 1
        if self._bar is None or self._task is None:
            return
        top = sorted(self._tally.items(), key=lambda kv: -kv[1])[:4]
        self._bar.update(self._task, advance=1, tally=" ".join(f"{name}:{n}" for name, n in top))

    def status(self, text: str) -> None:
        """A short live line beside the bar (harness run: attempts and spend so far)."""
        self._status = text
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, status=text)

    def note(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)
        else:
            click.echo(message, err=True)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(package_name="loopctl")
def cli():
    """loopctl: mine verified bug-fix tasks from Git history and run tiered model escalation.

    \b
    mine       turn a repository's history into tasks proven by their own tests
    calibrate  rerun tasks until they can be trusted; label difficulty
    harness    run models against tasks, escalating tiers only when the tests reject
    evaluate   judge a candidate patch against a task's tests
    export     write a task set for SWE-bench 5 (rows or a task repository) or Harbor, or import theirs
    """


# --- mine ---
@cli.command("mine")
@click.option("--repo", help="Repository URL, local path or git bundle.")
@click.option("--repos", "repos_file", type=click.Path(path_type=Path),
              help="A file naming several repositories, one URL, path or bundle per line (# comments; paths relative "
                   "to the file), mined into one task set with a funnel each. Default --out: ./<file name>-tasks.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Task set directory (tasks/, index.json, rejections.jsonl). Default: ./<repo name>-tasks.")
@click.option("--since", help="First commit to consider: a date (YYYY-MM-DD) or a revision; inclusive.")
@click.option("--until", help="Last commit to consider: a date or a revision; inclusive.")
@click.option("--commit", "commits", multiple=True, help="Mine exactly this commit (repeatable).")
@click.option("--branch", help="Branch to walk (default: the repository's HEAD).")
@click.option("--merges", is_flag=True, help="Also consider merge commits (diffed against their first parent).")
@click.option("--max-candidates", type=click.IntRange(min=0),
              help="Validate at most N new candidates, best score first.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Candidates validated at once, each in its own workspace. Default: 1; with --backend ray, "
                   "as many as the cluster has CPUs.")
@backend_option
@click.option("--python", "python",
              help="Interpreter for the task environments: a path or name, or 'auto' (per commit, the installed "
                   "one that fits its requires-python, classifiers and date). Default: this one.")
@click.option("--reruns", type=click.IntRange(min=1), default=2, show_default=True,
              help="Gold runs per candidate: the touched modules, then N-1 (at least 1) runs of the task's own "
                   "selection; a FAIL_TO_PASS test that flips between them is flaky.")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds per test run.")
@click.option("--test-dir", "test_dirs", multiple=True,
              help="Directory name holding tests (repeatable; replaces tests, test, testing and each commit's "
                   "own pytest settings).")
@click.option("--test-glob", "test_globs", multiple=True,
              help="Test file-name glob (repeatable; replaces test_*.py, *_test.py, conftest.py and each commit's "
                   "own pytest settings).")
@click.option("--name", help="owner/name to record for the tasks (default: from the URL; local/<dir> for paths).")
@json_option
@reports_errors
def mine_cmd(repo, repos_file, out, since, until, commits, branch, merges, max_candidates, jobs, backend, python,
             reruns, timeout, test_dirs, test_globs, name, as_json):
    """Turn a repository's history (or several, --repos) into tasks proven by their own tests."""
    from miner import MineConfig, ValidateConfig, conventions, mine
    from miner.run import default_out
    from miner.source import read_repo_list
    from taskset.jobs.pool import Backend

    validate = ValidateConfig(reruns=reruns, timeout=timeout, conventions=conventions(test_dirs, test_globs),
                              **({"python": python} if python else {}))
    repos = read_repo_list(repos_file) if repos_file is not None else ()
    if repos_file is not None and out is None:
        out = default_out(repos_file.stem)
    config = MineConfig(repo=repo or "", repos=repos, out=out, branch=branch, since=since, until=until,
                        commits=tuple(commits), merges=merges, max_candidates=max_candidates, jobs=jobs,
                        backend=Backend(backend), name=name, validate=validate,
                        project_conventions=not (test_dirs or test_globs))
    with TerminalProgress(enabled=not as_json) as progress:
        summary = mine(config, progress=progress)
    click.echo(summary.to_json() if as_json else summary.text())
    if summary.infrastructure:
        click.echo(f"error: the machine failed, not the candidates: {summary.infrastructure}\n"
                   f"{summary.postponed} candidates not validated (nothing recorded for them); rerun to validate them",
                   err=True)
        sys.exit(EXIT_INFRASTRUCTURE)
# --- end mine ---

# --- calibrate ---
@cli.command("calibrate")
@click.argument("taskset_dir", type=click.Path(path_type=Path))
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Reruns of the buggy and the gold code per task.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Tasks calibrated at once (one process each). Default: 1; with --backend ray, as many as the "
                   "cluster has CPUs.")
@backend_option
@click.option("--tiers", default=None, help="Harness tiers that label difficulty, in ladder order (local,o3,gpt-5.5).")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Attempts per tier per task when labelling difficulty.")
@click.option("--config", type=click.Path(path_type=Path), default=None, help="Tiers config (TOML) for --tiers.")
@click.option("--task-ids", default=None, help="Comma-separated instance ids (default: every task).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds per test run (default: the evaluator's).")
@click.option("--force", is_flag=True, help="Redo tasks that are already calibrated (or labelled).")
@json_option
@reports_errors
def calibrate_cmd(taskset_dir: Path, runs: int, jobs: int | None, backend: str, tiers: str | None, samples: int,
                  config: Path | None, task_ids: str | None, timeout: float | None, force: bool, as_json: bool):
    """Rerun the tasks of TASKSET_DIR until they can be trusted; with --tiers, label their difficulty.

    Statuses: ok, flaky, bad-test, broken, env-failed. Interrupted runs resume where they
    stopped; the summary is printed and written to TASKSET_DIR/calibration.json.
    """
    from calibrate import CalibrateConfig, calibrate, format_summary
    from taskset.jobs.pool import Backend

    ladder: tuple = ()
    if tiers:  # resolved before any work: an unknown tier is refused at once
        from harness import load_tiers

        ladder = tuple(load_tiers(list(split_csv(tiers)), config))
    settings = CalibrateConfig(runs=runs, jobs=jobs, backend=Backend(backend), timeout=timeout,
                               task_ids=split_csv(task_ids), force=force, tiers=ladder, samples=samples)
    with TerminalProgress(enabled=not as_json) as progress:
        summary = calibrate(taskset_dir, settings, progress)
    if as_json:
        echo_json(summary.to_dict())
    else:
        click.echo(format_summary(summary))
# --- end calibrate ---

# --- harness ---
@cli.group("harness", context_settings=CONTEXT)
def harness_group():
    """Run models against tasks, escalating tiers only when the tests reject their work."""


def _strategy_default() -> str:
    from harness.names import DEFAULT

    return ",".join(s.value for s in DEFAULT)


@harness_group.command("run")
@click.option("--taskset", "taskset_dir", type=click.Path(path_type=Path), required=True,
              help="The task set directory, or a SWE-bench .jsonl/.json file read as it is.")
@click.option("--tiers", default="local,o3,gpt-5.5", show_default=True,
              help="The ladder, bottom first (comma-separated); NAME:agent runs tier NAME as an agent tier "
                   "(a shell in the sandboxed workspace, turn by turn).")
@click.option("--strategies", default=_strategy_default(), show_default=True,
              help="Strategies to compare: modeE, always-local, always-frontier, local-repair, heuristic, cascade, "
                   "modeE+carry (oracle-routing is always computed). Only the tiers they need are run.")
@click.option("--seeds", default="42", show_default=True, help="Comma-separated seeds.")
@click.option("--task-ids", default="", help="Only these tasks (comma-separated instance ids; each must exist).")
@click.option("--jobs", type=int, default=None,
              help="Tasks run at once (at least 1). Default: 1; with --backend ray, as many as the cluster has CPUs.")
@backend_option
@click.option("--max-cost", type=float, default=None, help="Stop starting paid attempts at this many dollars (>= 0).")
@click.option("--cascade-thresholds", default="5,10,15,20,25", show_default=True,
              help="Pre-hoc score thresholds the cascade strategy is swept over.")
@click.option("--config", type=click.Path(path_type=Path), default=None, help="Tiers TOML (default: ./loopctl.toml).")
@click.option("--context", "context", type=click.Choice(["bm25", "traceback", "oracle"]), default=None,
              help="Which files edit tiers' prompts show, for every tier (default: each tier's config, else bm25; "
                   "oracle = the gold patch's files, an upper bound).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run directory (default: runs/<tiers>).")
@click.option("--uncalibrated", is_flag=True,
              help="Also run tasks calibration has not seen (default: only tasks calibrated ok).")
@json_option
@reports_errors
def harness_run(taskset_dir, tiers, strategies, seeds, task_ids, jobs, backend, max_cost, cascade_thresholds, config,
                context, out, uncalibrated, as_json):
    """Run (or resume) the tiers on a task set; records go to OUT/attempts.jsonl.

    Each tier's server is checked before the first task. Ctrl-C (or SIGTERM) stops new attempts at
    once and keeps everything finished (exit 130); rerun the same command to resume. Attempts that
    failed for infrastructure reasons (server errors, timeouts, broken environments) are retried.
    """
    import harness
    from harness.report.tables import headline, tables
    from harness.results.summary import write_summary
    from harness.run import RunSpec, run
    from taskset.jobs.pool import Backend

    conf = harness.load_config(config)
    ladder = harness.with_context(conf.select(split_csv(tiers)), context)
    wanted = harness.parse_strategies(split_csv(strategies))
    seed_list = _numbers(seeds, int, "--seeds")
    thresholds = _numbers(cascade_thresholds, float, "--cascade-thresholds")
    for warning in harness.price_warnings(ladder):
        click.echo(f"warning: {warning}", err=True)
    out = out or Path("runs") / "-".join(t.name for t in ladder)
    spec = RunSpec(taskset=taskset_dir, out=out, tiers=tuple(ladder), strategies=wanted, seeds=seed_list,
                   task_ids=split_csv(task_ids), jobs=jobs, backend=Backend(backend), max_cost=max_cost,
                   max_attempts=conf.max_attempts, carry_over=conf.carry_over, include_uncalibrated=uncalibrated,
                   cascade_thresholds=thresholds)
    with TerminalProgress(enabled=not as_json) as progress:
        result = run(spec, progress=progress)
    for note in result.notes:
        click.echo(note, err=True)
    summary = write_summary(out)
    if as_json:
        echo_json({"result": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(result).items()},
                   "summary": summary})
    elif not result.interrupted:
        _print_tables(headline(summary), tables(summary))
        click.echo(f"{result.new_attempts} new attempts ({result.resumed_attempts} already recorded) in {out}")
    if result.interrupted:
        click.echo(f"interrupted: {result.new_attempts} attempts finished and saved; rerun to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)


@harness_group.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="Re-price with this TOML's tier prices instead of the run's pinned table.")
@click.option("--by", type=click.Choice(["repo", "difficulty", "size", "files"]), default=None,
              help="Split every table and chart by task class (repository, calibrated difficulty, patch size in "
                   "changed lines, files touched), with a decision matrix per class.")
@json_option
@reports_errors
def harness_report(run_dir, config, by, as_json):
    """Write RUN_DIR/summary.json, report.html, report.md and predictions/, and print the tables."""
    import harness
    from harness.records.attempts import run_tiers
    from harness.report.render import write_report
    from harness.report.tables import class_tables, decision_table, headline, tables
    from harness.results.classes import ClassKind
    from harness.results.summary import load_summary

    prices = harness.load_config(config).select([t.name for t in run_tiers(run_dir)]) if config else None
    html, md = write_report(run_dir, prices, ClassKind(by) if by else None)
    summary = load_summary(run_dir)
    if as_json:
        echo_json(summary)
        return
    _print_tables(headline(summary), tables(summary))
    for heading, items in class_tables(summary):
        _print_tables(heading, items)
    _print_tables("", [decision_table(summary)])
    click.echo(f"wrote {html}, {md} and SWE-bench predictions in {Path(run_dir) / 'predictions'}")


def _numbers(text: str, kind, option: str) -> tuple:
    try:
        return tuple(kind(part) for part in split_csv(text))
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise Failure(f"{option}: expected comma-separated {what}, got {text!r}") from None


def _print_tables(line: str, items) -> None:
    from rich.console import Console

    console = Console()
    console.print(line, highlight=False)
    for table in items:
        console.print(table)
# --- end harness ---

# --- evaluate ---
@cli.command("evaluate")
@click.argument("taskset_dir", type=click.Path(path_type=Path))
@click.argument("instance_id")
@click.option("--patch", "patch_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A diff to judge.")
@click.option("--gold", is_flag=True, help="Judge the task's own fix (should resolve).")
@click.option("--empty", is_flag=True, help="Judge the unchanged buggy code (should not resolve).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds for the test run (default: from the task).")
@click.option("--require-sandbox", is_flag=True,
              help="Refuse to run the tests unconfined when no sandbox can start (as LOOPCTL_REQUIRE_SANDBOX=1).")
@json_option
@reports_errors
def evaluate_cmd(taskset_dir: Path, instance_id: str, patch_file: Path | None, gold: bool, empty: bool,
                 timeout: float | None, require_sandbox: bool, as_json: bool):
    """Judge a candidate patch against INSTANCE_ID's tests; exit 0 when resolved, 1 when not.

    The tests run in a sandbox (bubblewrap, else unshare): only the workspace is writable, there is
    no network, and the caller's secrets are out of reach. Where none can start they run unconfined
    and the verdict says "sandbox: none"; --require-sandbox refuses instead.
    """
    import taskset
    from taskset.evaluation.sandbox import REQUIRE_ENV
    from taskset.evaluation.verdict import evaluate

    if sum((patch_file is not None, gold, empty)) != 1:
        raise click.UsageError("give exactly one of --patch FILE, --gold, --empty")
    if require_sandbox:
        os.environ[REQUIRE_ENV] = "1"
    tasks = taskset.load(taskset_dir, skip_unreadable=True)
    task = tasks[instance_id]  # this task's own file unreadable: exit 2, naming it
    for other, exc in sorted(tasks.unreadable.items()):
        click.echo(f"warning: skipped {other}: {exc}", err=True)
    if patch_file is not None:
        patch = patch_file.read_text(encoding="utf-8", errors="surrogateescape")
    else:
        patch = task.patch if gold else ""
    verdict = evaluate(task, patch=patch, timeout=timeout)
    if as_json:
        echo_json(verdict.to_dict())
    else:
        sandboxed = f", sandbox: {verdict.sandbox}" if verdict.sandbox else ""
        click.echo(f"{verdict.instance_id}: {verdict.problem.value} ({verdict.duration:.1f}s{sandboxed})")
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
@click.option("--format", "fmt", type=click.Choice(["swebench", "swebench-repo", "harbor"]), default="swebench",
              show_default=True,
              help="swebench: SWE-bench 5 rows, one per line (--out FILE.jsonl), or a parquet file (--out "
                   "FILE.parquet); swebench-repo: a SWE-bench task repository with a Dockerfile per task "
                   "(--out DIR); harbor: one Harbor task directory per task (--out DIR).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The file or directory to write; with --import, the dataset file to read "
                   "(.jsonl, .json array or .parquet) or a Harbor export (a directory).")
@click.option("--import", "import_", is_flag=True,
              help="Reverse direction: read a SWE-bench dataset file or a Harbor export loopctl wrote (--out) "
                   "into TASKSET_DIR, all tasks or none.")
@click.option("--clone-from", default="",
              help="With --import: where this machine clones the tasks' repository from (path, bundle or URL) "
                   "when their repo_url is not reachable or empty.")
@click.option("--dataset", default="", help="swebench-repo: the dataset sweb.yaml names (default: loopctl/<out name>).")
@reports_errors
def export_cmd(taskset_dir: Path, fmt: str, out: Path, import_: bool, clone_from: str, dataset: str):
    """Export TASKSET_DIR for SWE-bench 5 or Harbor, or with --import read one back into TASKSET_DIR.

    Exports are written beside OUT and renamed into place: a failure leaves any previous export
    as it was. Tasks the format cannot carry are skipped and named on stderr.
    """
    import taskset

    if import_:
        if fmt == "harbor" or taskset.is_harbor_export(out):
            count = taskset.import_harbor(out, taskset_dir, clone_from=clone_from)
        else:
            count = taskset.import_swebench(out, taskset_dir, clone_from=clone_from)
        click.echo(f"imported {count} tasks from {out} into {taskset_dir}")
        return
    tasks = list(taskset.load(taskset_dir))
    if fmt == "harbor":
        result = taskset.export_harbor(tasks, out)
    elif fmt == "swebench-repo":
        result = taskset.export_task_repo(tasks, out, dataset=dataset)
    elif out.suffix.lower() == ".parquet":
        result = taskset.export_parquet(tasks, out)
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
        command.main(prog_name=name, **CONTEXT)

    return entry


mine_main = _direct("mine")
calibrate_main = _direct("calibrate")
harness_main = _direct("harness")

if __name__ == "__main__":
    main()
