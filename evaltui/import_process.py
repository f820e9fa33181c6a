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

import multiprocessing
import os
import pickle
import signal
import traceback
from collections.abc import Generator
from multiprocessing.connection import Connection
from pathlib import Path

from evaltui.errors import InputError
from evaltui.importers.base import ImportOptions, Progress
from evaltui.store.store import RowBatch, RowSource, Tally

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
    """The reader process: read run `index` of `path`, send ("rows", cases, results, done)
    per batch, then ("end", tally) or ("error", ...)."""
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
                out.send_bytes(
                    pickle.dumps(
                        ("rows", case_rows, result_rows, progress.done, progress.total),
                        protocol=5,
                    )
                )
            out.send_bytes(pickle.dumps(("end", vars(tally)), protocol=5))
        except InputError as exc:
            error = (exc.path, exc.detail, exc.location, exc.field)
            out.send_bytes(pickle.dumps(("error", error), protocol=5))
        except Exception:
            out.send_bytes(pickle.dumps(("crash", traceback.format_exc()), protocol=5))
    except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
        pass  # the writer has gone: nothing to say, nobody to say it to
    finally:
        out.close()


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
        loads = pickle.loads
        try:
            while True:
                try:
                    message = loads(receive.recv_bytes())
                except EOFError:
                    proc.join(5)
                    raise RuntimeError(
                        f"the import reader process for {path} stopped "
                        f"(exit code {proc.exitcode}); nothing of this run was written"
                    ) from None
                kind = message[0]
                if kind == "rows":
                    progress.done, progress.total = message[3], message[4]
                    yield message[1], message[2]
                elif kind == "end":
                    vars(tally).update(message[1])
                    return
                elif kind == "error":
                    err_path, detail, location, field = message[1]
                    raise InputError(err_path, detail, location=location, field=field)
                else:
                    raise RuntimeError(f"the import reader process failed:\n{message[1]}")
        finally:
            receive.close()
            if proc.is_alive():
                proc.terminate()
            proc.join()
            proc.close()

    return source
