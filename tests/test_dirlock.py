"""One writer per output directory, and JSONL files that survive a torn append."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from taskset.errors import DirectoryBusy
from taskset.files.atomic import drop_torn_tail, remove_stale_temporaries, write_atomic
from taskset.files.dirlock import exclusive

HOLDER = textwrap.dedent(
    """
    import sys, time
    from taskset.files.dirlock import exclusive
    with exclusive(sys.argv[1], doing="mine"):
        print("held", flush=True)
        sys.stdin.read()   # hold until the test closes our stdin
    """
)


def _holder(directory):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_naming_the_first(tmp_path):
    """Two real processes, one directory: the second is refused with who holds it."""
    proc = _holder(tmp_path / "out")
    try:
        with pytest.raises(DirectoryBusy) as caught:
            with exclusive(tmp_path / "out", doing="mine"):
                pass
        assert f"pid {proc.pid}" in str(caught.value) and "mine" in str(caught.value)
    finally:
        proc.communicate("")
    with exclusive(tmp_path / "out"):  # released when the holder ended
        pass


def test_a_killed_writer_leaves_the_directory_free(tmp_path):
    """The lock is the kernel's: SIGKILL of the holder frees it, nothing to clean by hand."""
    proc = _holder(tmp_path / "out")
    proc.kill()
    proc.communicate()  # reaps it and closes its pipes
    with exclusive(tmp_path / "out"):
        pass


def test_one_process_cannot_take_its_own_directory_twice(tmp_path):
    """Two writers inside one process (threads of a harness) are refused as well."""
    with exclusive(tmp_path):
        with pytest.raises(DirectoryBusy):
            with exclusive(tmp_path):
                pass


def test_a_torn_last_line_is_dropped_not_kept(tmp_path):
    """A record cut short by a kill is removed, so the next append does not sit beside junk."""
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')
    drop_torn_tail(path)
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    path.write_bytes(b'{"only": ')
    drop_torn_tail(path)
    assert path.read_bytes() == b""
    path.write_bytes(b'{"a": 1}\n')
    drop_torn_tail(path)
    assert path.read_bytes() == b'{"a": 1}\n'


def test_atomic_files_follow_the_umask(tmp_path):
    """write_atomic's file has the mode open() would give it, not mkstemp's 0600."""
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "index.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "index.json").stat().st_mode & 0o777 == 0o644


def test_stale_temporaries_are_reclaimed(tmp_path):
    """A kill between mkstemp and rename leaves .NAME.xyz.tmp; the next writer removes it."""
    out = tmp_path / "set"
    out.mkdir()
    (out / ".t.json.abc.tmp").write_text("half")
    (out / "t.json").write_text("{}")
    assert remove_stale_temporaries(out) == 1
    assert sorted(p.name for p in out.iterdir()) == ["t.json"]
