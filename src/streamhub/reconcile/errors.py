"""Errors of the reconcile stage; each names the institution, table or window to look at."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class ReconcileError(StreamhubError):
    """Base of the reconcile stage's errors."""


class WindowShapeError(ReconcileError):
    """A counts record's window is not the reconciler's (length or alignment)."""


class AmbiguousTableError(ReconcileError):
    """A record names a table without its database and the institution has several."""


class SnapshotFormatError(ReconcileError):
    """A stored reconciler snapshot cannot be read by this version."""
