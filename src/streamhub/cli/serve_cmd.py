"""``streamhub serve`` (the web app) and ``streamhub users`` (who may sign in to it)."""

from __future__ import annotations

import logging
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import click

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.secrets_mask import mask_url
from streamhub.web.auth import ROLES


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=38080, show_default=True, help="TCP port."
)
@click.pass_context
@fails_cleanly
def serve_cmd(ctx: click.Context, host: str, port: int) -> None:
    """Serve the regional dashboard, operations console and data catalog until stopped.

    Reads ClickHouse through the lander's query endpoint (embedded chDB: run
    `streamhub land --query-port 39106`) or straight from a ClickHouse server.
    """
    # imported here: the web stack is not needed for `streamhub --help`
    import uvicorn

    from streamhub.query import QueryError, open_query_source
    from streamhub.web.app import create_app
    from streamhub.web.auth import UserStore

    settings = settings_from(ctx)
    users = UserStore(settings.web_users_path).users()
    if not users:
        click.echo(
            f"warning: no users in {settings.web_users_path}: nobody can sign in; add one with "
            "`streamhub users add NAME --role official|operator|developer`",
            err=True,
        )
    queries = open_query_source(settings)
    try:
        queries.run("ping")
    except QueryError as exc:
        click.echo(f"warning: ClickHouse not readable yet ({exc}); pages show it as red", err=True)
    listener = _listen(host, port)
    app = create_app(settings, queries)
    click.echo(
        f"serving on http://{host}:{port} ({len(users)} users from {settings.web_users_path}, "
        f"ClickHouse via {_via(settings.clickhouse_dsn, settings.query_url)}, audit trail "
        f"{settings.audit_log_path})",
        err=True,
    )
    # the audit events are the trail's copy in the log: kept whatever --log-level says
    logging.getLogger("streamhub.web.audit").setLevel(logging.INFO)
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=5)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler
    # in place before it ran: with these, a requested stop exits 0 instead of "killed by 15".
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _already_stopped)
    uvicorn.Server(config).run(sockets=[listener])


def _already_stopped(signum: int, frame: FrameType | None) -> None:
    """The server has shut down by the time this runs."""


def _via(dsn: str, query_url: str) -> str:
    """Where the web app reads ClickHouse, printable: a password in the URL is masked."""
    if dsn.startswith("chdb:"):
        return f"the lander's query endpoint {mask_url(query_url)}"
    return mask_url(dsn)


def _listen(host: str, port: int) -> socket.socket:
    """Bind before building the app, so a taken port fails at once with a clear message."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}); stop what uses it or pick "
            "another --port"
        ) from exc
    listener.listen(128)
    listener.set_inheritable(True)
    return listener


@click.group("users")
def users_group() -> None:
    """Web users: who may sign in, with which role (official, operator, developer,
    institution_contact)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may open.")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the password from this file (first line); default: prompt, or stdin.",
)
@click.option(
    "--institution",
    default=None,
    help="institution_contact only: the one institution (credit code) the user sees.",
)
@click.pass_context
@fails_cleanly
def users_add_cmd(
    ctx: click.Context, name: str, role: str, password_file: Path | None, institution: str | None
) -> None:
    """Add a user, or replace the role and password of an existing one."""
    from streamhub.web.auth import User, check_new_user, hash_password, read_users, write_users

    settings = settings_from(ctx)
    password = _password(password_file)
    check_new_user(name, role, password, institution)
    path = settings.web_users_path
    users = read_users(path) if path.is_file() else {}
    replaced = name in users
    users[name] = User(name, role, hash_password(password), institution)
    write_users(path, users)
    click.echo(f"{'updated' if replaced else 'added'} user {name} ({role}) in {path}")


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    if sys.stdin.isatty():
        value: str = click.prompt("password", hide_input=True, confirmation_prompt=True)
        return value
    return sys.stdin.readline().rstrip("\r\n")


@users_group.command("list")
@click.pass_context
@fails_cleanly
def users_list_cmd(ctx: click.Context) -> None:
    """List users and roles (never their password hashes)."""
    from streamhub.web.auth import ROLE_PAGES, UserStore

    settings = settings_from(ctx)
    users = UserStore(settings.web_users_path).users()
    if not users:
        click.echo(f"no users in {settings.web_users_path}; add one with `streamhub users add`")
        return
    width = max(len(n) for n in users)
    for user in sorted(users.values(), key=lambda u: u.name):
        pages = ", ".join(ROLE_PAGES[user.role])
        click.echo(f"{user.name.ljust(width)}  {user.role.ljust(9)}  {pages}")
