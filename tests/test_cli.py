"""Every command explains itself and has a page in docs/."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli import cli

DOCS = Path(__file__).resolve().parents[1] / "docs"
# Which page documents each top-level command.
PAGES = {
    "mine": "mining.md",
    "calibrate": "calibration.md",
    "harness": "harness.md",
    "evaluate": "evaluator.md",
    "export": "task-format.md",
}


def every_command(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from every_command(command, prefix + (name,))


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("path", [p for p, _ in every_command(cli)], ids=" ".join)
def test_every_command_has_help(path, flag):
    """`--help` (and `-h`) works and says something for every command and subcommand."""
    result = CliRunner().invoke(cli, [*path, flag])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    command = dict(every_command(cli))[path]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"


def test_every_command_has_a_docs_page():
    """Each top-level command is documented on its page, under its own name."""
    assert set(cli.commands) == set(PAGES)
    for name, page in PAGES.items():
        text = (DOCS / page).read_text()
        assert name in text, f"docs/{page} never mentions {name}"


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("name", ["mine", "calibrate", "harness"])
def test_direct_scripts_are_the_group_commands(name, flag):
    """The console scripts `mine`, `calibrate`, `harness` run `loopctl NAME` under their own name, `-h` too."""
    import subprocess
    import sys

    code = f"import sys, cli; sys.argv[1:] = [{flag!r}]; cli.{name}_main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: {name} ")
    assert " ".join(cli.commands[name].help.split()[:5]) in " ".join(done.stdout.split())


def test_commands_reporting_a_result_share_one_json_flag():
    """`--json` is the same option (name, help) on every command that prints a result."""
    helps = {" ".join(path): next((o.help for o in command.params if o.name == "as_json"), None)
             for path, command in every_command(cli) if not isinstance(command, click.Group)}
    assert set(helps) - {"export"} == {name for name, text in helps.items() if text}
    assert len({text for text in helps.values() if text}) == 1


def test_default_task_set_directory_cannot_be_a_folder_of_the_project():
    """`mine` without --out writes ./<repo name>-tasks: never taskset/, miner/ or any folder of a checkout."""
    from miner.run import default_out

    assert default_out("local/calclib") == Path("calclib-tasks")
    assert default_out("jpadilla/pyjwt") == Path("pyjwt-tasks")
    # a name with a dash is never an importable package, so it can never be one of ours
    assert not default_out("local/taskset").name.isidentifier()
    option = next(o for o in cli.commands["mine"].params if o.name == "out")
    assert option.default is None and "<repo name>-tasks" in option.help


def test_errors_become_one_line():
    """An OSError reads `path: reason`; an infrastructure failure says nothing was recorded and a rerun retries."""
    from cli import one_line
    from taskset.errors import InfraCause, InfrastructureError

    assert one_line(IsADirectoryError(21, "Is a directory", "/x/out.jsonl")) == "/x/out.jsonl: Is a directory"
    text = one_line(InfrastructureError("no space left\non /cache", cause=InfraCause.DISK))
    assert "\n" not in text and "no space left on /cache" in text and "rerun to retry" in text


def test_an_infrastructure_failure_exits_3_not_2():
    """Exit 2 is bad input; exit 3 says the machine failed and a rerun may succeed."""
    from cli import EXIT_INFRASTRUCTURE, reports_errors
    from taskset.errors import InfrastructureError

    @click.command()
    @reports_errors
    def broken():
        raise InfrastructureError("the package index cannot be reached")

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == EXIT_INFRASTRUCTURE == 3
    assert result.stderr.startswith("error: the machine failed") and result.stderr.count("\n") == 1


def test_a_missing_sandbox_or_interpreter_is_the_setup_exit_2():
    """No interpreter or no sandbox will not pass by itself on a rerun: exit 2, like bad input."""
    from cli import EXIT_USAGE, reports_errors
    from taskset.errors import InfraCause, InfrastructureError

    for cause in (InfraCause.INTERPRETER, InfraCause.SANDBOX):
        @click.command()
        @reports_errors
        def broken():
            raise InfrastructureError("cannot start it", cause=cause)  # noqa: B023 -- called at once

        result = CliRunner().invoke(broken, [])
        assert result.exit_code == EXIT_USAGE and result.stderr == "error: cannot start it\n"


@pytest.mark.parametrize("path", [p for p, c in every_command(cli) if not isinstance(c, click.Group)], ids=" ".join)
def test_a_usage_error_is_one_line_on_every_command(path):
    """An unknown option, a missing argument or a bad value is one line (no usage block) and exit 2."""
    for args in (["--no-such-option"], ["--jobs", "not-a-number"]):
        result = CliRunner().invoke(cli, [*path, *args], prog_name="loopctl")
        assert result.exit_code == 2, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert lines[0].endswith(f"(see 'loopctl {' '.join(path)} --help')"), lines[0]


def test_the_console_scripts_print_usage_errors_in_one_line():
    """The direct scripts (``mine`` ...) name themselves in the hint, one line, exit 2."""
    import subprocess
    import sys

    code = "import sys, cli; sys.argv[1:] = ['--jobs', '0']; cli.mine_main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: Invalid value for '--jobs' / '-j': 0 is not in the range x>=1. (see 'mine --help')"]
