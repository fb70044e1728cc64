"""PostgreSQL from Debian's packages, with ``wal_level=logical`` for log-based capture."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import psycopg2

from streamhub.stack import process
from streamhub.stack.errors import StackError
from streamhub.stack.secrets import stack_secret
from streamhub.stack.service import Service, ServiceStatus

OS_USER = "postgres"
SETTINGS = {
    "wal_level": "logical",
    "max_wal_senders": "64",
    "max_replication_slots": "64",  # a slot per connector: 4 per simulated PostgreSQL institution
    "max_slot_wal_keep_size": "'4GB'",
    "wal_sender_timeout": "'60s'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'256MB'",
    "synchronous_commit": "on",  # as institutions run it: WAL is flushed, so decoded, at commit
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
}


def find_bin_dir() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


class Postgres(Service):
    name = "postgres"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def pid_file(self) -> Path:
        return self.data / "postmaster.pid"  # written by the postmaster itself

    def _bin(self) -> Path:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            process.apt_install(["postgresql"], "PostgreSQL server")
            bin_dir = find_bin_dir()
            if bin_dir is None:
                raise StackError(
                    "PostgreSQL was installed but pg_ctl is not under /usr/lib/postgresql"
                )
        return bin_dir

    def _user(self) -> str | None:
        return OS_USER if process.is_root() else None

    def _pg(self, bin_dir: Path, *args: str) -> list[str]:
        return [*process.as_user(self._user()), str(bin_dir / args[0]), *args[1:]]

    def _initdb(self, bin_dir: Path) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        process.ensure_traversable(self.home, self._user())
        password = stack_secret(self.settings, "postgres_password")
        with tempfile.NamedTemporaryFile("w", dir=self.home, delete=False) as pwfile:
            pwfile.write(password + "\n")
        process.chown_tree(self.home, self._user())
        try:
            process.run(
                self._pg(
                    bin_dir,
                    "initdb",
                    "-D",
                    str(self.data),
                    "-U",
                    self.settings.postgres_user,
                    f"--pwfile={pwfile.name}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ),
                "initialising the PostgreSQL cluster",
            )
        finally:
            Path(pwfile.name).unlink(missing_ok=True)
        lines = [f"{k} = {v}" for k, v in SETTINGS.items()]
        lines += ["listen_addresses = '127.0.0.1'", f"port = {self.settings.postgres_port}"]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# streamhub local stack\n" + "\n".join(lines) + "\n")

    def ready(self) -> bool:
        try:
            with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
                return True
        except psycopg2.Error:
            return False

    def connect(self, dbname: str = "postgres") -> psycopg2.extensions.connection:
        return psycopg2.connect(
            host=self.settings.postgres_host,
            port=self.settings.postgres_port,
            user=self.settings.postgres_user,
            dbname=dbname,
            connect_timeout=3,
            password=stack_secret(self.settings, "postgres_password"),
        )

    def up(self) -> str:
        bin_dir = self._bin()
        did = []
        if not (self.data / "PG_VERSION").exists():
            self._initdb(bin_dir)
            did.append("initialised")
        if self.running_pid() is not None and self.ready():
            return "already running"
        if process.port_open(self.settings.postgres_host, self.settings.postgres_port):
            raise StackError(
                f"port {self.settings.postgres_port} is taken by another process; "
                "set STREAMHUB_POSTGRES_PORT to a free port"
            )
        process.run(
            self._pg(
                bin_dir,
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "start",
            ),
            "starting PostgreSQL",
        )
        process.wait_until(self.ready, "PostgreSQL", 30, self.log_file)
        return " and ".join([*did, "started"])

    def down(self) -> str:
        bin_dir = find_bin_dir()
        if bin_dir is None or self.running_pid() is None:
            return "not running"
        process.run(
            self._pg(bin_dir, "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"),
            "stopping PostgreSQL",
        )
        return "stopped"

    def status(self) -> ServiceStatus:
        pid = self.running_pid()
        running, detail = False, ""
        if pid is not None:
            try:
                with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
                    cur.execute(
                        "SELECT current_setting('server_version'), current_setting('wal_level')"
                    )
                    version, wal_level = cur.fetchone() or ("unknown", "unknown")
                running, detail = True, f"postgresql {version}, wal_level={wal_level}"
            except psycopg2.Error as exc:
                detail = f"not answering: {exc}".strip()
        return ServiceStatus(
            self.name,
            running,
            f"{self.settings.postgres_host}:{self.settings.postgres_port}",
            pid,
            detail,
        )
