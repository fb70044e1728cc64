"""The query endpoint's bearer token: long enough to be a secret, on both sides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamhub.config import Settings
from streamhub.query.errors import QueryTokenError, QueryUnavailableError

MIN_TOKEN_CHARS = 32  # what `streamhub stack up` generates (token_urlsafe(24))


def checked_token(token: str, source: str) -> str:
    """``token`` stripped, or a refusal naming where it came from (never the value): an
    empty token would let anyone in, a short one can be guessed."""
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS:
        what = "empty" if not token else f"only {len(token)} characters"
        raise QueryTokenError(
            f"the query endpoint's token from {source} is {what}; it needs at least "
            f"{MIN_TOKEN_CHARS} (generate one: python -c 'import secrets; "
            "print(secrets.token_urlsafe(24))')"
        )
    return token


def query_token(settings: Settings) -> Callable[[], str]:
    """The endpoint's token for a reader: checked now when it is already known, else read
    once when first needed (the lander may create it after we start), then kept."""
    path: Path = settings.query_token_file or settings.secrets_dir / "query_token"
    known: list[str] = []
    if settings.query_token is not None:
        known.append(
            checked_token(settings.query_token.get_secret_value(), "STREAMHUB_QUERY_TOKEN")
        )
    elif path.exists():
        known.append(checked_token(path.read_text(), str(path)))

    def token() -> str:
        if not known:
            try:
                text = path.read_text()
            except OSError as exc:
                raise QueryUnavailableError(
                    f"no query token at {path}: start the lander with --query-port (it creates "
                    "one) or set STREAMHUB_QUERY_TOKEN"
                ) from exc
            known.append(checked_token(text, str(path)))
        return known[0]

    return token
