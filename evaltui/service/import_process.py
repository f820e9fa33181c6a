"""Read a large file in a second process while this one writes to the store.

An import spends its time in two places of about the same size: reading
(parsing, validating, building rows) and SQLite writing. On a machine with
two cores or more, `import_path` hands a large single-run file to a reader
process: it runs the same importer and row building as a serial import and
sends the row batches through a pipe; this process only writes them, inside
the run's one transaction. Whatever the reader finds wrong (a bad line) comes
back as the same InputError, and the run is rolled back as before.

The pipe is the only link, with at most AHEAD batches queued on this side,
so memory stays bounded in both processes. If this process dies (kill -9), the reader's next send fails
and it exits; if the reader dies, this process sees the pipe close and rolls
the run back.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Generator
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from evaltui.errors import InputError
from evaltui.importers import get_importer
from evaltui.importers.base import ImportOptions, Progress, checked_records
from evaltui.store.rows import RowBatch, RowSource, Tally, build_rows

# Batches (~2,000 results, ~2 MB each) the reader may be ahead of the writer.
AHEAD = 8
# Each message is a tag byte and a marshal dump (faster than pickle for rows of str,
# int, float and None): rows, then one of end, error, crash.
ROWS, END, ERROR, CRASH = b"R", b"E", b"X", b"C"

# Below this size the reader process costs more to start (~0.3 s) than it saves.
MIN_BYTES = 64 << 20


def handles(importer: object) -> bool:
    """Built-in importers only: the reader process finds the importer again by name."""
    return type(importer).__module__.startswith("evaltui.importers.")


def worth_it(path: Path) -> bool:
    """Whether a file is big enough, and the machine has a core to spare, for a reader process.

    EVALTUI_IMPORT_PROCESS=0 turns the reader process off, =1 uses it for any size.
    """
    setting = os.environ.get("EVALTUI_IMPORT_PROCESS", "")
    if setting == "0" or not path.is_file():  # a folder (lm-eval output) is read here
        return False
    if setting == "1":
        return True
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores >= 2 and path.stat().st_size >= MIN_BYTES


def _send(out: BinaryIO, tag: bytes, payload: Any) -> None:
    data = marshal.dumps(payload)
    out.write(tag + struct.pack("<Q", len(data)))
    out.write(data)


def _reader(fmt: str, path: str, options: ImportOptions, index: int, run_id: int) -> None:
    """The reader process: read run `index` of `path`; send each batch of rows, then the
    run's tally, or the InputError, or the traceback of anything else, on stdout."""
    # Ctrl+C in a terminal reaches both processes: the writer decides; the reader
    # stops when the pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The messages go to the original stdout; anything else that prints goes nowhere.
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)

    try:
        try:
            item = get_importer(fmt).read(Path(path), options)[index]
            tally = Tally()
            progress = item.progress
            for case_rows, result_rows, traj_rows in build_rows(
                checked_records(Path(path), item.records, options), run_id, tally
            ):
                _send(out, ROWS, (case_rows, result_rows, traj_rows, progress.done, progress.total))
            _send(out, END, vars(tally))
        except InputError as exc:
            _send(out, ERROR, (exc.path, exc.detail, exc.location, exc.field))
        except Exception:
            _send(out, CRASH, traceback.format_exc())
        out.close()
    except OSError:
        pass  # the writer has gone (broken pipe): nothing to say, nobody to say it to


def _receive(pipe: BinaryIO, inbox: queue.Queue[tuple[bytes, bytes] | None]) -> None:
    """Move the reader's messages (tag + marshal dump) into `inbox`; None once the pipe
    has closed early."""
    try:
        while True:
            head = pipe.read(9)
            if len(head) < 9:
                break
            (size,) = struct.unpack("<Q", head[1:])
            body = pipe.read(size)
            if len(body) < size:
                break
            inbox.put((head[:1], body))  # no copy of the ~2 MB body
            if head[:1] != ROWS:
                return  # end, error or crash: the last message
    except (OSError, ValueError):
        pass
    inbox.put(None)


def rows_from_reader(
    fmt: str,
    path: Path,
    options: ImportOptions,
    index: int,
    progress: Progress,
) -> RowSource:
    """A `rows` source for Store.import_run that reads in a separate process.

    The reader is a fresh interpreter (`python -m evaltui.service.import_process`), never a
    fork (the caller may hold threads) nor multiprocessing's spawn (which would run
    the caller's main script again in the child).
    """

    def source(run_id: int, tally: Tally) -> Generator[RowBatch, None, None]:
        job = json.dumps(
            {
                "fmt": fmt,
                "path": str(path),
                "options": asdict(options),
                "index": index,
                "run_id": run_id,
            }
        )
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(
                [sys.executable, "-m", "evaltui.service.import_process", job],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                bufsize=1 << 20,
            )
            assert proc.stdout is not None
            # A thread takes the reader's batches off the pipe into a short queue, so the
            # reader runs ahead of the writer by a few batches instead of waiting on each
            # one (the thread only waits on the pipe; decoding stays in this thread).
            inbox: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue(maxsize=AHEAD)
            receiver = threading.Thread(
                target=_receive,
                args=(proc.stdout, inbox),
                name="evaltui-import-receiver",
                daemon=True,
            )
            receiver.start()
            loads = marshal.loads
            try:
                while True:
                    got = inbox.get()
                    if got is None:
                        code = proc.wait(5)
                        errors.seek(0)
                        said = errors.read()[-2000:].decode("utf-8", "replace").strip()
                        raise RuntimeError(
                            f"the import reader process for {path} stopped (exit code {code})"
                            + (f":\n{said}" if said else "")
                        )
                    tag, message = got[0], loads(got[1])
                    if tag == ROWS:
                        case_rows, result_rows, traj_rows, progress.done, progress.total = message
                        yield case_rows, result_rows, traj_rows
                    elif tag == END:
                        vars(tally).update(message)
                        return
                    elif tag == ERROR:
                        err_path, detail, location, field = message
                        raise InputError(err_path, detail, location=location, field=field)
                    else:
                        raise RuntimeError(f"the import reader process failed:\n{message}")
            finally:
                if proc.poll() is None:
                    proc.kill()  # the pipe then closes, and the receiver ends
                while receiver.is_alive():  # make room: the receiver may wait on a full queue
                    with contextlib.suppress(queue.Empty):
                        inbox.get(timeout=0.05)
                proc.stdout.close()
                proc.wait()

    return source


def main(argv: list[str]) -> None:
    """`python -m evaltui.service.import_process JOB`: the reader process (JOB is JSON)."""
    job = json.loads(argv[0])
    _reader(job["fmt"], job["path"], ImportOptions(**job["options"]), job["index"], job["run_id"])


if __name__ == "__main__":
    main(sys.argv[1:])
