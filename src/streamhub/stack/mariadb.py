"""MariaDB from Debian's packages, with a row-based binlog and GTIDs for log-based capture."""

from __future__ import annotations

import contextlib
import getpass
import shutil
from pathlib import Path

import pymysql

from streamhub.stack import process
from streamhub.stack.errors import StackError
from streamhub.stack.secrets import stack_secret
from streamhub.stack.service import Service, ServiceStatus

OS_USER = "mysql"
SERVER_OPTIONS = [
    "--server-id=1",
    "--log-bin=binlog",
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--binlog-row-metadata=FULL",
    "--gtid-strict-mode=1",
    "--log-slave-updates=1",
    "--expire-logs-days=7",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    "--default-time-zone=+00:00",
    "--skip-name-resolve",
    "--max-connections=500",
    "--innodb-buffer-pool-size=256M",
    "--innodb-flush-log-at-trx-commit=2",  # a local test stack: speed over the last second
]
# mariadbd sets its files' modes itself (default 0660, dirs 0700), from these variables
OWNER_ONLY_MODES = {"UMASK": "0600", "UMASK_DIR": "0700"}


class MariaDB(Service):
    name = "mariadb"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def socket(self) -> Path:
        # unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts
        path = self.home / "mysqld.sock"
        if len(str(path)) < 100:
            return path
        # the socket only lets the local admin bootstrap the account; the port is in the name
        return Path(f"/tmp/streamhub-mariadb-{self.settings.mariadb_port}.sock")  # noqa: S108

    def _user(self) -> str | None:
        return OS_USER if process.is_root() else None

    def _ensure_installed(self) -> None:
        if shutil.which("mariadbd") is None and not Path("/usr/sbin/mariadbd").exists():
            process.apt_install(["mariadb-server", "mariadb-client"], "MariaDB server")

    def _install_db(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        process.ensure_traversable(self.home, self._user())
        process.chown_tree(self.home, self._user())
        user_args = [f"--user={OS_USER}"] if self._user() else []
        process.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                "--skip-name-resolve",
                *user_args,
            ],
            "initialising the MariaDB data directory",
            env=OWNER_ONLY_MODES,
        )

    def _server_cmd(self) -> list[str]:
        user_args = [f"--user={OS_USER}"] if self._user() else []
        return [
            "/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else "mariadbd",
            "--no-defaults",
            f"--datadir={self.data}",
            f"--port={self.settings.mariadb_port}",
            f"--bind-address={self.settings.mariadb_host}",
            f"--socket={self.socket}",
            f"--pid-file={self.home / 'mariadbd.pid'}",
            f"--log-error={self.log_file}",
            *user_args,
            *SERVER_OPTIONS,
        ]

    def _bootstrap_user(self) -> None:
        """Create the streamhub account over the socket (root authenticates by OS user)."""
        password = stack_secret(self.settings, "mariadb_password")
        admin = "root" if process.is_root() else getpass.getuser()
        user = self.settings.mariadb_user
        host = self.settings.mariadb_host
        with contextlib.closing(pymysql.connect(unix_socket=str(self.socket), user=admin)) as conn:
            with conn.cursor() as cur:
                cur.execute(
                    "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password)
                )
                cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
                cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@%s WITH GRANT OPTION", (user, host))
            conn.commit()

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.settings.mariadb_host,
            port=self.settings.mariadb_port,
            user=self.settings.mariadb_user,
            database=database,
            password=stack_secret(self.settings, "mariadb_password"),
            connect_timeout=3,
            charset="utf8mb4",
        )

    def _socket_ready(self) -> bool:
        return self.socket.exists() and process.port_open(
            self.settings.mariadb_host, self.settings.mariadb_port
        )

    def ready(self) -> bool:
        try:
            with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
                return True
        except pymysql.MySQLError:
            return False

    def up(self) -> str:
        self._ensure_installed()
        did = []
        if not (self.data / "mysql").is_dir():
            self._install_db()
            did.append("initialised")
        if self.running_pid() is not None and self.ready():
            return "already running"
        if process.port_open(self.settings.mariadb_host, self.settings.mariadb_port):
            raise StackError(
                f"port {self.settings.mariadb_port} is taken by another process; "
                "set STREAMHUB_MARIADB_PORT to a free port"
            )
        pid = process.spawn(
            self._server_cmd(), self.home / "stdout.log", self.pid_file, env=OWNER_ONLY_MODES
        )
        process.wait_until(self._socket_ready, "MariaDB", 60, self.log_file, pid)
        self._bootstrap_user()
        process.wait_until(self.ready, "MariaDB (streamhub account)", 10, self.log_file, pid)
        return " and ".join([*did, "started"])

    def down(self) -> str:
        return self.stop_process(grace_s=60)

    def status(self) -> ServiceStatus:
        pid = self.running_pid()
        running, detail = False, ""
        if pid is not None:
            try:
                with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
                    cur.execute("SELECT @@version, @@binlog_format, @@gtid_strict_mode")
                    version, binlog_format, gtid_strict = cur.fetchone() or ("unknown",) * 3
                running = True
                detail = (
                    f"mariadb {version}, binlog_format={binlog_format}, gtid_strict={gtid_strict}"
                )
            except pymysql.MySQLError as exc:
                detail = f"not answering: {exc}"
        return ServiceStatus(
            self.name,
            running,
            f"{self.settings.mariadb_host}:{self.settings.mariadb_port}",
            pid,
            detail,
        )
