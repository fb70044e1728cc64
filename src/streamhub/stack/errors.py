from streamhub.errors import StreamhubError


class StackError(StreamhubError):
    """A local-stack service could not be installed, started or stopped."""


class MissingSoftwareError(StackError):
    """A required program is absent and cannot be installed by us (not root)."""
