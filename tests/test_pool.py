"""The shared process pool: results reach the driver, interrupts are prompt and lossless, no orphans.

Real processes and real signals. Units that must still be running when the signal lands never
finish by themselves (they wait forever), so no test races the machine's speed: the test waits
for an event (a unit started, a result saved), never for a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from taskset.jobs.pool import run_each

UNITS = textwrap.dedent('''
    import os
    import time
    from pathlib import Path

    def unit(item):
        """(name, hold, where): note this worker's pid, wait forever if held, return the name in capitals."""
        name, hold, where = item
        if name == "boom":
            raise ValueError("boom failed")
        Path(where, name + ".tmp").write_text(str(os.getpid()))
        os.replace(Path(where, name + ".tmp"), Path(where, name + ".pid"))  # never seen half-written
        while hold:
            time.sleep(0.05)
        return name.upper()
''')

DRIVER = textwrap.dedent('''
    import signal
    import sys

    from taskset.jobs.pool import run_each


    def save(item, result):
        with open(item[2] + "/results.txt", "a") as out:
            out.write(result + "\\n")


    def interrupt(signum, frame):
        raise KeyboardInterrupt


    if __name__ == "__main__":  # spawned workers import this module too
        where = sys.argv[1]
        sys.path.insert(0, where)
        from units import unit

        signal.signal(signal.SIGTERM, interrupt)  # as the CLI does
        items = [(name, name != "a", where) for name in sys.argv[2:]]
        try:
            run_each(unit, items, save, jobs=2)
        except KeyboardInterrupt:
            sys.exit(130)
''')


@pytest.fixture
def units(tmp_path, monkeypatch) -> Path:
    """A directory holding the ``units`` module (importable by spawned workers too)."""
    (tmp_path / "units.py").write_text(UNITS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def collect(units: Path, names: list[str], jobs: int) -> dict[str, str]:
    import units as module  # written by the fixture

    results: dict[str, str] = {}
    run_each(module.unit, [(name, False, str(units)) for name in names], lambda i, r: results.update({i[0]: r}),
             jobs=jobs)
    return results


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_result_reaches_the_driver(units, jobs):
    """Each unit's result is handed to the driver once, with its item, inline or from workers."""
    assert collect(units, ["x", "y", "z"], jobs) == {"x": "X", "y": "Y", "z": "Z"}


def test_a_failing_unit_stops_the_pool_and_raises_in_the_driver(units):
    """A unit's exception reaches the driver (after the results that finished were handed over)."""
    with pytest.raises(ValueError, match="boom failed"):
        collect(units, ["boom", "x"], jobs=2)


def start_driver(units: Path, *names: str) -> subprocess.Popen:
    (units / "driver.py").write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(units / "driver.py"), str(units), *names], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, proc: subprocess.Popen, what: str, deadline: float = 120.0) -> None:
    """Wait for an event (not for a time); the deadline only stops a broken test from hanging."""
    end = time.monotonic() + deadline
    while not condition():
        assert proc.poll() is None, f"the driver ended before {what}: {proc.communicate()}"
        assert time.monotonic() < end, f"never saw {what}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def pids(units: Path, *names: str) -> list[int]:
    return [int((units / f"{name}.pid").read_text()) for name in names]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_aborts_running_units_at_once_and_keeps_what_finished(units, signum):
    """Ctrl-C (or SIGTERM) while units run: the driver exits at once, finished results kept, no worker left."""
    proc = start_driver(units, "a", "b", "c")
    try:
        # a finishes; b and c start (one in a's freed worker) and would wait forever
        wait_for(lambda: all((units / f"{n}.pid").exists() for n in "abc") and (units / "results.txt").exists(),
                 proc, "a saved and b, c running")
        workers = set(pids(units, "b", "c"))
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 130, err
    assert (units / "results.txt").read_text() == "A\n"
    assert not [pid for pid in workers if alive(pid)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_driver_leaves_no_worker_behind(units):
    """SIGKILL of the driver (nothing can be handled): its workers die with it."""
    proc = start_driver(units, "b", "c")
    try:
        wait_for(lambda: all((units / f"{n}.pid").exists() for n in "bc"), proc, "b and c running")
        workers = pids(units, "b", "c")
        proc.kill()
        proc.communicate()
        end = time.monotonic() + 60
        while any(alive(pid) for pid in workers) and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.communicate()
    assert not [pid for pid in workers if alive(pid)]
