"""Printable forms of URLs and messages that may carry a password.

A ClickHouse DSN, a registry URL or a database URL may hold a password in its user
part (``http://user:pw@host:8123``) or in its query (``?password=pw``). Every place
that prints one (``config show``, start-up lines, error messages) goes through
:func:`mask_url`; text from a library (a driver's exception message) goes through
:func:`mask_text`, which masks any such URL or ``password=`` pair inside it.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# query parameters whose value is a credential
_SECRET_PARAMS = frozenset(
    {
        "password",
        "pass",
        "passwd",
        "pwd",
        "token",
        "access_token",
        "secret",
        "api_key",
        "key",
        "sasl.password",
        "basic.auth.user.info",
    }
)
# scheme://user:password@  (the password part stops at the last '@' before the host)
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s@]*(?P<at>@)")
# password=value / password: value / "password": "value", in a message or a libpq DSN
_PAIR = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|token|secret|sasl\.password)[\"']?\s*[=:]\s*)"
    r"(?P<quote>[\"']?)(?P<value>[^\s\"'&,;)}]+)(?P=quote)",
    re.IGNORECASE,
)


def mask_url(url: str) -> str:
    """``url`` with the password of its user part and credential query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_text(url)
    if not parts.scheme or not parts.netloc:
        return mask_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in _SECRET_PARAMS for name, _ in pairs):
            query = urlencode(
                [(n, MASK if n.lower() in _SECRET_PARAMS else v) for n, v in pairs], safe="*"
            )
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_text(text: str) -> str:
    """``text`` with every ``scheme://user:password@`` and ``password=value`` masked."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
    return _PAIR.sub(lambda m: f"{m['head']}{m['quote']}{MASK}{m['quote']}", text)


def has_password(url: str) -> bool:
    """Whether printing ``url`` raw would show a credential."""
    return mask_url(url) != url
