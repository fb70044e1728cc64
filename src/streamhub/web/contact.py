"""What an institution contact may see: their own institution, and nothing else.

Allow-list: the 质控 page and its API answer operators (the page is part of their console)
and institution contacts; every other page and API refuses a contact by role (ROLE_PAGES
gives them the 质控 page only). Within the 质控 API a contact's scope is forced to the
institution the users file binds them to: a request naming another institution, or an order
of another institution, is refused with :data:`NOT_YOURS`, which names nothing of it.
"""

from __future__ import annotations

from typing import NoReturn

from fastapi import HTTPException, Request

from streamhub.web.auth import CONTACT, Session
from streamhub.web.context import require, viewed

OPERATOR = "operator"
NOT_YOURS = (
    "无权访问：机构联系人只能查看本机构的工单和质控记录 (an institution contact sees only "
    "their own institution's work orders and quality records)"
)
NOT_A_CONTACT = (
    "无权操作：只有机构联系人可以确认工单或报告整改 (only an institution contact may "
    "acknowledge a work order or report its fix)"
)

quality_page = require("quality")


def is_contact(session: Session) -> bool:
    return session.role == CONTACT


def shows_source_keys(session: Session) -> bool:
    """Source key tokens (security level 3) go to operators only: never to a contact."""
    return session.role == OPERATOR


def scoped(request: Request, session: Session, institution: str) -> str:
    """The institution a request may see: a contact's own (refusing any other named),
    an operator's choice ('' for all)."""
    if not is_contact(session):
        return institution
    own = session.institution_id
    if not own:  # the users file refuses such a contact; never serve one unscoped
        raise HTTPException(403, NOT_YOURS)
    if institution and institution != own:
        refuse(request, "another institution")
    return own


def refuse(request: Request, what: str) -> NoReturn:
    """403 with :data:`NOT_YOURS`; the audit line says what was asked (the query string
    it records names the institution; the answer does not)."""
    viewed(request, f"quality: refused {what}")
    raise HTTPException(403, NOT_YOURS)
