"""Read a large file in a second process while this one writes to the store.

An import spends its time in two places of about the same size: reading
(parsing, validating, building rows) and SQLite writing. On a machine with
two cores or more, `import_path` hands a large single-run file to a reader
process: it runs the same importer and row building as a serial import and
sends the row batches through a pipe; this process only writes them, inside
the run's one transaction. Whatever the reader finds wrong (a bad line) comes
back as the same InputError, and the run is rolled back as before.

The pipe is the only link: it holds a batch or two, so memory stays bounded
on both sides. If this process dies (kill -9), the reader's next send fails
and it exits; if the reader dies, this process sees the pipe close and rolls
the run back.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Generator
from multiprocessing.connection import Connection
from pathlib import Path

from evaltui.errors import InputError
from evaltui.importers.base import ImportOptions, Progress
from evaltui.store.store import RowBatch, RowSource, Tally

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


def _reader(
    fmt: str, path: str, options: ImportOptions, index: int, run_id: int, out: Connection
) -> None:
    """The reader process: read run `index` of `path`; send each batch of rows, then the
    run's tally, or the InputError, or the traceback of anything else."""
    # Ctrl+C in a terminal reaches both processes: the writer decides; the reader
    # stops when the pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from evaltui.importers import get_importer
    from evaltui.store.store import build_rows

    try:
        try:
            item = get_importer(fmt).read(Path(path), options)[index]
            tally = Tally()
            progress = item.progress
            for case_rows, result_rows in build_rows(item.records, run_id, tally):
                batch = (case_rows, result_rows, progress.done, progress.total)
                out.send_bytes(ROWS + marshal.dumps(batch))
            out.send_bytes(END + marshal.dumps(vars(tally)))
        except InputError as exc:
            error = (exc.path, exc.detail, exc.location, exc.field)
            out.send_bytes(ERROR + marshal.dumps(error))
        except Exception:
            out.send_bytes(CRASH + marshal.dumps(traceback.format_exc()))
    except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
        pass  # the writer has gone: nothing to say, nobody to say it to
    finally:
        out.close()


def _receive(pipe: Connection, inbox: queue.Queue[bytes | None]) -> None:
    """Move the reader's messages into `inbox`; None once the pipe has closed."""
    try:
        while True:
            data = pipe.recv_bytes()
            inbox.put(data)
            if data[:1] != ROWS:
                return  # end, error or crash: the last message
    except (EOFError, OSError):
        inbox.put(None)


def rows_from_reader(
    fmt: str,
    path: Path,
    options: ImportOptions,
    index: int,
    progress: Progress,
) -> RowSource:
    """A `rows` source for Store.import_run that reads in a separate process."""

    def source(run_id: int, tally: Tally) -> Generator[RowBatch, None, None]:
        ctx = multiprocessing.get_context("spawn")  # never fork: the caller may hold threads
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_reader,
            args=(fmt, str(path), options, index, run_id, send),
            name="evaltui-import-reader",
            daemon=True,
        )
        proc.start()
        send.close()  # ours is the read end only: EOF when the reader exits
        # A thread takes the reader's batches off the pipe into a short queue, so the
        # reader runs ahead of the writer by a few batches instead of waiting on each
        # one (the thread only waits on the pipe; unpickling stays in this thread).
        inbox: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
        receiver = threading.Thread(
            target=_receive, args=(receive, inbox), name="evaltui-import-receiver", daemon=True
        )
        receiver.start()
        loads = marshal.loads
        try:
            while True:
                data = inbox.get()
                if data is None:
                    proc.join(5)
                    raise RuntimeError(
                        f"the import reader process for {path} stopped "
                        f"(exit code {proc.exitcode}); nothing of this run was written"
                    )
                tag, message = data[:1], loads(memoryview(data)[1:])
                if tag == ROWS:
                    case_rows, result_rows, progress.done, progress.total = message
                    yield case_rows, result_rows
                elif tag == END:
                    vars(tally).update(message)
                    return
                elif tag == ERROR:
                    err_path, detail, location, field = message
                    raise InputError(err_path, detail, location=location, field=field)
                else:
                    raise RuntimeError(f"the import reader process failed:\n{message}")
        finally:
            if proc.is_alive():
                proc.terminate()  # the pipe then closes, and the receiver ends
            while receiver.is_alive():  # make room: the receiver may wait on a full queue
                with contextlib.suppress(queue.Empty):
                    inbox.get(timeout=0.05)
            receive.close()
            proc.join()
            proc.close()

    return source
