"""Real PostgreSQL and Redis servers for the test suite (a pytest plugin plus helpers).

Loaded through ``pytest_plugins = ["tests.servers"]`` in ``tests/conftest.py``. Every server
is a private throw-away instance: started on loopback on a free port, with its files in a
temp dir, and stopped at the end. Nothing is mocked and no system service is used.

Fixtures:

* ``postgres_server`` (session; one per xdist worker) -> :class:`PostgresServer`
* ``redis_server`` (session; one per xdist worker) -> :class:`RedisServer`
* ``postgres_database`` (function) -> SQLAlchemy URL of a fresh, empty database
* ``postgres_database_factory`` (function) -> ``make(prefix="t") -> URL`` for more databases

Tests that kill or restart a server (fault tests) must start their own instance with
``PostgresServer.start(tmp_path)`` / ``RedisServer.start(tmp_path)`` instead of disturbing the
shared session one; call :func:`require_postgres_bindir` / :func:`require_redis_server` first
for the skip-or-fail rule.

Missing server binaries skip the test with the reason, or fail it when ``CI`` is set
(``tests.conftest.IN_CI``): CI must never silently skip the database tests.

PostgreSQL refuses to run as root. When the euid is 0, initdb and pg_ctl run through
``runuser -u chemtrace-pg --`` (a system user created on demand), and since pytest's temp dirs
are private to root (mode 0700), the cluster lives in ``$TMPDIR/chemtrace-pg-*`` (owned by that
user, removed at the end; a ``pg`` symlink in the base dir points at it). Directories left
by a crashed session are swept on the next start.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PG_SYSTEM_USER = "chemtrace-pg"
PG_SUPERUSER = "postgres"
_RUN_DIR_PREFIX = "chemtrace-pg-"
_OWNER_FILE = "owner"
_STARTUP_TIMEOUT = 60.0
_PORT_ATTEMPTS = 6
_UNIX_SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
_PG_PORT_RACE = (
    "could not bind",
    "address already in use",
    "could not create any tcp/ip sockets",
)

# --------------------------------------------------------------------------------------------
# small process / port helpers


def _is_root() -> bool:
    return os.geteuid() == 0


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` is a live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:  # no /proc: fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    state = stat.rpartition(")")[2].split()[0]
    return state not in {"Z", "X"}


def _process_start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (guards against pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of the whole line


def _children_of(pid: int) -> list[int]:
    children: list[int] = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[1] == str(pid):
            children.append(int(entry.parent.name))
    return children


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` is alive; return the ones still alive at the deadline."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if _pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _pid_alive(p)]
    return alive


def _ephemeral_port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_free_port() -> int:
    """A currently free loopback TCP port.

    Chosen at random below the kernel's ephemeral range, so that outgoing client
    connections (which take ephemeral ports) cannot steal it between the check and the
    server's bind. Another process can still take it: callers retry on a bind failure.
    """
    low, _ = _ephemeral_port_range()
    top = low - 1 if low > 20000 else 65535
    for _ in range(200):
        port = random.randint(15000, top)
        if _port_is_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log at {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty log>"


def _clean_env() -> dict[str, str]:
    """The environment for server tools, without libpq variables that would redirect them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


# --------------------------------------------------------------------------------------------
# binaries and the skip-or-fail rule


def _version_key(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in path.parent.name.split("."))
    except ValueError:
        return (-1,)


def _has_pg_tools(bindir: Path) -> bool:
    return all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))


def find_postgres_bindir() -> Path | None:
    """The PostgreSQL server ``bin`` dir: highest /usr/lib/postgresql/*/bin, pg_config, PATH."""
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True):
        if _has_pg_tools(bindir):
            return bindir
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_pg_tools(Path(out)):
            return Path(out)
    initdb = shutil.which("initdb")
    if initdb and _has_pg_tools(Path(initdb).parent):
        return Path(initdb).parent
    return None


def find_redis_server() -> Path | None:
    """The ``redis-server`` binary: PATH, else /usr/bin/redis-server."""
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    fallback = Path("/usr/bin/redis-server")
    return fallback if fallback.is_file() else None


def _skip_or_fail(reason: str) -> None:
    from tests.conftest import IN_CI  # read at call time; conftest owns the CI rule

    if IN_CI:
        pytest.fail(f"{reason} (CI must run these tests: install the server)", pytrace=False)
    pytest.skip(reason)


def require_postgres_bindir() -> Path:
    """The PostgreSQL bin dir, or skip (fail under CI) with the reason."""
    bindir = find_postgres_bindir()
    if bindir is None:
        _skip_or_fail(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
            "/usr/lib/postgresql/*/bin, `pg_config --bindir` or PATH; install them with "
            "`apt-get install postgresql` or run scripts/test.sh as root"
        )
    assert bindir is not None
    if _is_root():
        missing = [tool for tool in ("runuser", "useradd") if not _which_sbin(tool)]
        if missing:
            _skip_or_fail(
                f"running as root needs {', '.join(missing)} to run PostgreSQL as the "
                f"{PG_SYSTEM_USER} user (PostgreSQL refuses to run as root)"
            )
    return bindir


def require_redis_server() -> Path:
    """The redis-server binary, or skip (fail under CI) with the reason."""
    binary = find_redis_server()
    if binary is None:
        _skip_or_fail(
            "redis-server not found on PATH or at /usr/bin/redis-server; install it with "
            "`apt-get install redis-server` or run scripts/test.sh as root"
        )
    assert binary is not None
    return binary


def _which_sbin(tool: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])
    return shutil.which(tool, path=path)


# --------------------------------------------------------------------------------------------
# everything started here is stopped at interpreter exit even if a fixture teardown never ran

_live: set[Any] = set()
_live_lock = threading.Lock()


def _register(server: Any) -> None:
    with _live_lock:
        _live.add(server)


def _unregister(server: Any) -> None:
    with _live_lock:
        _live.discard(server)


@atexit.register
def _close_all() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:
        with contextlib.suppress(Exception):
            server.close()


# --------------------------------------------------------------------------------------------
# PostgreSQL


def to_libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy) -> ``postgresql://...`` (libpq/psycopg)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def _ensure_pg_system_user() -> pwd.struct_passwd:
    """Create the unprivileged ``chemtrace-pg`` system user once (safe across xdist workers)."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(PG_SYSTEM_USER)
    lock_path = Path(tempfile.gettempdir()) / f"{PG_SYSTEM_USER}-useradd.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for attempt in range(10):
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(PG_SYSTEM_USER)
            useradd = _which_sbin("useradd") or "useradd"
            result = subprocess.run(
                [
                    useradd,
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    PG_SYSTEM_USER,
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            # 9: already exists (another process won the race); 10: /etc/passwd locked
            if result.returncode not in (0, 9, 10) or attempt == 9:
                with contextlib.suppress(KeyError):
                    return pwd.getpwnam(PG_SYSTEM_USER)
                raise RuntimeError(
                    f"could not create system user {PG_SYSTEM_USER!r}: "
                    f"{result.stderr.strip() or result.returncode}"
                )
            time.sleep(0.2)
    raise AssertionError("unreachable")  # pragma: no cover


def _sweep_stale_run_dirs() -> None:
    """Remove ``$TMPDIR/chemtrace-pg-*`` left by sessions that died without cleaning up."""
    for run_dir in Path(tempfile.gettempdir()).glob(f"{_RUN_DIR_PREFIX}*"):
        if not run_dir.is_dir() or run_dir.is_symlink():
            continue
        owner = run_dir / _OWNER_FILE
        try:
            pid_text, _, started = owner.read_text().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                if time.time() - run_dir.stat().st_mtime < 3600:
                    continue  # being set up right now, or not ours to judge yet
            pid, started = -1, ""
        if pid > 0 and _pid_alive(pid) and _process_start_time(pid) == started.strip():
            continue  # its session is still running
        data_dir = run_dir / "data"
        postmaster = _read_postmaster_pid(data_dir)
        if postmaster is not None and _pid_alive(postmaster):
            try:
                cmdline = Path(f"/proc/{postmaster}/cmdline").read_bytes()
            except OSError:
                cmdline = b""
            if str(data_dir).encode() in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(postmaster, signal.SIGQUIT)
                _wait_gone([postmaster], 10)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(postmaster, signal.SIGKILL)
                _wait_gone([postmaster], 5)
        _remove_shm_segment(data_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


def _read_postmaster_pid(data_dir: Path) -> int | None:
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
        return int(first.strip())
    except (OSError, IndexError, ValueError):
        return None


def _remove_shm_segment(data_dir: Path) -> None:
    """Drop the SysV interlock segment a SIGKILLed, never-restarted postmaster leaves behind."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        shmid = int(lines[6].split()[1])
    except (OSError, IndexError, ValueError):
        return
    ipcrm = shutil.which("ipcrm")
    if ipcrm:
        subprocess.run([ipcrm, "-m", str(shmid)], capture_output=True, check=False, timeout=30)


class PostgresServer:
    """A private PostgreSQL cluster on 127.0.0.1 (superuser ``postgres``, trust auth)."""

    def __init__(self, base_dir: Path, bindir: Path) -> None:
        self.base_dir = base_dir
        self.bindir = bindir
        self.port = 0
        self.run_as: str | None = PG_SYSTEM_USER if _is_root() else None
        self._uid_gid: tuple[int, int] | None = None
        self.run_dir = base_dir
        self.running = False
        self._closed = False
        self.durable = False
        """fsync, full-page writes and synchronous commit on (benchmarks); off for tests."""

    # ---- layout

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.run_dir / "sock"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "postgres.log"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs (from ``postmaster.pid``)."""
        return _read_postmaster_pid(self.data_dir)

    # ---- lifecycle

    @classmethod
    def start(
        cls,
        base_dir: Path,
        *,
        bindir: Path | None = None,
        startup_timeout: float = _STARTUP_TIMEOUT,
        durable: bool = False,
    ) -> PostgresServer:
        """initdb a new cluster under ``base_dir`` and start it on a free loopback port.

        ``durable``: every commit reaches the disk (``fsync``, ``full_page_writes`` and
        ``synchronous_commit`` on), as in production; the test suite runs without."""
        found = bindir or find_postgres_bindir()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries not found (see find_postgres_bindir)")
        base_dir.mkdir(parents=True, exist_ok=True)
        server = cls(base_dir, found)
        server.durable = durable
        _register(server)
        try:
            server._prepare_dirs()
            server._initdb()
            server._launch_on_a_free_port(startup_timeout)
            return server
        except BaseException:
            with contextlib.suppress(Exception):  # keep the original error
                server.close()
            raise

    def stop(self) -> None:
        """Fast shutdown (waits for it); the cluster's data stays for :meth:`restart`."""
        if not self.running:
            return
        for mode in ("fast", "immediate"):
            result = self._run(
                [
                    self._tool("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "60",
                    "stop",
                ],
                check=False,
            )
            if result.returncode == 0:
                self.running = False
                return
        self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash), then wait until its children have exited too."""
        pid = self.pid
        self.running = False
        if pid is None or not _pid_alive(pid):
            return
        children = _children_of(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        # backends notice the postmaster's death and exit by themselves; a restart needs them gone
        stragglers = _wait_gone([pid, *children], 15)
        for straggler in stragglers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(straggler, signal.SIGKILL)
        _wait_gone(stragglers, 5)
        if Path(f"/proc/{pid}").exists():
            # a zombie nobody has reaped yet (init may reap lazily): postgres would take its
            # pid for a live postmaster and refuse to start, so clear what the dead one held
            _remove_shm_segment(self.data_dir)
            for lock in (
                self.data_dir / "postmaster.pid",
                self.socket_dir / f".s.PGSQL.{self.port}.lock",
            ):
                with contextlib.suppress(OSError):
                    lock.unlink()

    def restart(self, *, startup_timeout: float = _STARTUP_TIMEOUT) -> None:
        """Stop (if running) and start again on the same port; runs crash recovery after kill()."""
        self.stop()
        self._launch(startup_timeout)

    def close(self) -> None:
        """Stop, and remove the cluster when it lives outside ``base_dir`` (root)."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            _unregister(self)
            if self.run_dir != self.base_dir:
                _remove_shm_segment(self.data_dir)
                with contextlib.suppress(OSError):
                    shutil.copyfile(self.log_path, self.base_dir / "postgres.log")
                with contextlib.suppress(OSError):
                    (self.base_dir / "pg").unlink()
                shutil.rmtree(self.run_dir, ignore_errors=True)
            elif not self.running:
                _remove_shm_segment(self.data_dir)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PostgresServer 127.0.0.1:{self.port} {state} {self.data_dir}>"

    @classmethod
    def restore(
        cls,
        base_dir: Path,
        base_backup: Path,
        settings: dict[str, str],
        *,
        standby: bool = False,
        bindir: Path | None = None,
        startup_timeout: float = _STARTUP_TIMEOUT,
    ) -> PostgresServer:
        """A new server on a copy of ``base_backup`` (``pg_basebackup`` output), recovering
        with ``settings`` (``restore_command``, a recovery target...) on a free port; with
        ``standby``, it stays a standby (``primary_conninfo`` in ``settings``)."""
        found = bindir or find_postgres_bindir()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries not found (see find_postgres_bindir)")
        base_dir.mkdir(parents=True, exist_ok=True)
        server = cls(base_dir, found)
        _register(server)
        try:
            server._prepare_dirs()
            shutil.copytree(base_backup, server.data_dir)
            with (server.data_dir / "postgresql.auto.conf").open("a") as conf:
                conf.writelines(f"{key} = '{value}'\n" for key, value in settings.items())
            (server.data_dir / ("standby.signal" if standby else "recovery.signal")).touch()
            for path in (server.data_dir, *server.data_dir.rglob("*")):
                server._chown(path)
            server.data_dir.chmod(0o700)
            server._launch_on_a_free_port(startup_timeout)
            return server
        except BaseException:
            with contextlib.suppress(Exception):  # keep the original error
                server.close()
            raise

    def _launch_on_a_free_port(self, startup_timeout: float) -> None:
        last_error: RuntimeError | None = None
        for _ in range(_PORT_ATTEMPTS):
            self.port = pick_free_port()
            try:
                self._launch(startup_timeout)
            except _PortTakenError as exc:
                last_error = exc
                continue
            return
        raise RuntimeError(
            f"PostgreSQL could not bind a port after {_PORT_ATTEMPTS} attempts"
        ) from last_error

    def promote(self) -> None:
        """``pg_ctl promote``: a standby becomes a primary (waits until it is)."""
        self._run([self._tool("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", "promote"])

    # ---- URLs and databases

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL of ``dbname`` on this server."""
        return f"postgresql+psycopg://{PG_SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def libpq_url(self, dbname: str = "postgres") -> str:
        """libpq/psycopg URL of ``dbname`` on this server."""
        return to_libpq_url(self.url(dbname))

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> Any:
        """A ``psycopg.Connection`` to ``dbname`` (autocommit unless told otherwise)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(self.libpq_url(dbname), **kwargs)

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` (empty, UTF8, C locale); returns its SQLAlchemy URL."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS ``name``, terminating any connections still open to it."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force)
            )

    # ---- internals

    def _tool(self, name: str) -> str:
        return str(self.bindir / name)

    def _run(
        self, args: list[str], *, check: bool = True, timeout: float = _STARTUP_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        if self.run_as is not None:
            args = [_which_sbin("runuser") or "runuser", "-u", self.run_as, "--", *args]
        result = subprocess.run(
            args,
            cwd=self.run_dir,
            env=_clean_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout + 30,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n--- log tail ({self.log_path}) ---\n"
                f"{_tail(self.log_path)}"
            )
        return result

    def _chown(self, path: Path) -> None:
        if self._uid_gid is not None:
            os.chown(path, *self._uid_gid)

    def _prepare_dirs(self) -> None:
        if self.run_as is not None:
            entry = _ensure_pg_system_user()
            self._uid_gid = (entry.pw_uid, entry.pw_gid)
            _sweep_stale_run_dirs()
            # pytest's temp dirs are 0700 root: the postgres user could not even reach them
            self.run_dir = Path(tempfile.mkdtemp(prefix=_RUN_DIR_PREFIX))
            owner = self.run_dir / _OWNER_FILE
            owner.write_text(f"{os.getpid()} {_process_start_time(os.getpid()) or ''}\n")
            self._chown(self.run_dir)
            link = self.base_dir / "pg"
            with contextlib.suppress(OSError):
                link.unlink()
            link.symlink_to(self.run_dir, target_is_directory=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.socket_dir)

    def _initdb(self) -> None:
        self._run(
            [
                self._tool("initdb"),
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                PG_SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# chemtrace test tooling\ninclude 'chemtrace_test.conf'\n")

    def _write_conf(self) -> None:
        socket_dir = str(self.socket_dir)
        if len(f"{socket_dir}/.s.PGSQL.{self.port}") > _UNIX_SOCKET_PATH_MAX:
            socket_dir = ""  # the path would not fit in sun_path: TCP only
        conf = self.data_dir / "chemtrace_test.conf"
        conf.write_text(
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            + (
                "fsync = on\nfull_page_writes = on\nsynchronous_commit = on\n"
                if self.durable
                else "fsync = off\nfull_page_writes = off\n"
            )
            + "max_connections = 200\n"
            "shared_buffers = 64MB\n"
            "logging_collector = off\n"
            "log_line_prefix = '%m [%p] '\n"
        )
        self._chown(conf)

    def _launch(self, startup_timeout: float) -> None:
        self._write_conf()
        deadline = time.monotonic() + startup_timeout
        while True:
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            remaining = max(1, int(deadline - time.monotonic()))
            result = self._run(
                [
                    self._tool("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(remaining),
                    "-s",
                    "start",
                ],
                check=False,
                timeout=remaining,
            )
            if result.returncode == 0:
                break
            new_log = ""
            with contextlib.suppress(OSError), self.log_path.open(errors="replace") as log:
                log.seek(log_offset)
                new_log = log.read().lower()
            if any(marker in new_log for marker in _PG_PORT_RACE):
                raise _PortTakenError(f"port {self.port} was taken:\n{new_log[-2000:]}")
            # right after a kill(), the old shared memory can still be held for a moment
            if "pre-existing shared memory block" in new_log and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            self._stop_quietly()
            raise RuntimeError(
                f"PostgreSQL did not start on 127.0.0.1:{self.port} within {startup_timeout:.0f}s "
                f"(pg_ctl exit {result.returncode}: {(result.stdout + result.stderr).strip()})\n"
                f"--- log tail ({self.log_path}) ---\n{_tail(self.log_path)}"
            )
        self.running = True
        self._wait_ready(deadline)

    def _wait_ready(self, deadline: float) -> None:
        import psycopg

        while True:
            try:
                with psycopg.connect(self.libpq_url(), connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    self._stop_quietly()
                    raise RuntimeError(
                        f"PostgreSQL on 127.0.0.1:{self.port} accepts no connections: {exc}\n"
                        f"--- log tail ({self.log_path}) ---\n{_tail(self.log_path)}"
                    ) from exc
                time.sleep(0.05)

    def _stop_quietly(self) -> None:
        self.running = True  # whatever pg_ctl thinks, make sure nothing is left behind
        with contextlib.suppress(Exception):
            self.stop()
        self.running = False


class _PortTakenError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# Redis


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


class RedisServer:
    """A private ``redis-server`` on 127.0.0.1 with persistence off."""

    def __init__(self, base_dir: Path, binary: Path) -> None:
        self.base_dir = base_dir
        self.binary = binary
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "redis.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @classmethod
    def start(
        cls,
        base_dir: Path,
        *,
        binary: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> RedisServer:
        """Start redis-server on a free loopback port, its files under ``base_dir``."""
        found = binary or find_redis_server()
        if found is None:
            raise RuntimeError("redis-server not found on PATH or at /usr/bin/redis-server")
        base_dir.mkdir(parents=True, exist_ok=True)
        server = cls(base_dir, found)
        _register(server)
        try:
            last_error: RuntimeError | None = None
            for _ in range(_PORT_ATTEMPTS):
                server.port = pick_free_port()
                try:
                    server._launch(startup_timeout)
                except _PortTakenError as exc:
                    last_error = exc
                    continue
                return server
            raise RuntimeError(
                f"redis-server could not bind a port after {_PORT_ATTEMPTS} attempts"
            ) from last_error
        except BaseException:
            with contextlib.suppress(Exception):  # keep the original error
                server.close()
            raise

    def stop(self) -> None:
        """SIGTERM (nothing is saved: persistence is off) and wait; SIGKILL if it hangs."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        self.process = None

    def kill(self) -> None:
        """SIGKILL the server (a crash) and reap it."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=15)
        self.process = None

    def restart(self, *, startup_timeout: float = 30.0) -> None:
        """Stop (if running) and start again on the same port (the data is gone: no persistence)."""
        self.stop()
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                self._launch(max(1.0, deadline - time.monotonic()))
                return
            except _PortTakenError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            _unregister(self)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RedisServer 127.0.0.1:{self.port} {state}>"

    def _launch(self, startup_timeout: float) -> None:
        data_dir = self.base_dir / "data"
        data_dir.mkdir(exist_ok=True)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        args = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--daemonize",
            "no",
        ]
        in_main_thread = threading.current_thread() is threading.main_thread()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=data_dir,
                start_new_session=True,
                # the server dies with this process even if no teardown runs (a killed
                # xdist worker); only from the main thread, since PDEATHSIG follows the thread
                preexec_fn=_die_with_parent if in_main_thread else None,
            )
        deadline = time.monotonic() + startup_timeout
        while True:
            if self.process.poll() is not None:
                self.process = None
                new_log = ""
                with contextlib.suppress(OSError), self.log_path.open(errors="replace") as log_r:
                    log_r.seek(log_offset)
                    new_log = log_r.read()
                if "address already in use" in new_log.lower():
                    raise _PortTakenError(f"port {self.port} was taken")
                raise RuntimeError(
                    f"redis-server exited at startup on 127.0.0.1:{self.port}\n"
                    f"--- log tail ({self.log_path}) ---\n{_tail(self.log_path)}"
                )
            if self._ping():
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"redis-server did not answer PING on 127.0.0.1:{self.port} within "
                    f"{startup_timeout:.0f}s\n--- log tail ({self.log_path}) ---\n"
                    f"{_tail(self.log_path)}"
                )
            time.sleep(0.02)

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


# --------------------------------------------------------------------------------------------
# pytest plugin: fixtures


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One PostgreSQL server per session (per xdist worker). Do not kill it: start your own."""
    bindir = require_postgres_bindir()
    server = PostgresServer.start(tmp_path_factory.mktemp("postgres"), bindir=bindir)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis server per session (per xdist worker). Do not kill it: start your own."""
    binary = require_redis_server()
    server = RedisServer.start(tmp_path_factory.mktemp("redis"), binary=binary)
    try:
        yield server
    finally:
        server.close()


def _database_name(request: pytest.FixtureRequest, prefix: str) -> str:
    test = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")
    return f"{prefix}_{test[:40]}_{uuid.uuid4().hex[:10]}"[:63]


@pytest.fixture
def postgres_database_factory(
    postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """``make(prefix="t") -> URL``: fresh empty databases, all dropped after the test."""
    created: list[str] = []

    def make(prefix: str = "t") -> str:
        name = _database_name(request, prefix)
        url = postgres_server.create_database(name)
        created.append(name)
        return url

    yield make
    for name in reversed(created):
        postgres_server.drop_database(name)


@pytest.fixture
def postgres_database(postgres_database_factory: Callable[..., str]) -> str:
    """SQLAlchemy URL (``postgresql+psycopg://...``) of a fresh empty database for this test."""
    return postgres_database_factory()


# --------------------------------------------------------------------------------------------
# pytest plugin: hooks

_PG_FIXTURES = {"postgres_server", "postgres_database", "postgres_database_factory"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests using a PostgreSQL fixture get the ``postgres`` marker (for ``-m``) automatically."""
    for item in items:
        if _PG_FIXTURES.intersection(getattr(item, "fixturenames", ())) and not any(
            item.iter_markers("postgres")
        ):
            item.add_marker(pytest.mark.postgres)


def pytest_report_header(config: pytest.Config) -> list[str]:
    bindir = find_postgres_bindir()
    redis = find_redis_server()
    pg = str(bindir) if bindir else "NOT FOUND"
    if bindir and _is_root():
        pg += f" (as user {PG_SYSTEM_USER}: running as root)"
    return [f"test servers: postgres {pg}; redis-server {redis or 'NOT FOUND'}"]
