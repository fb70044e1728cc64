from streamhub.errors import StreamhubError


class CatalogError(StreamhubError):
    """The topic catalog is invalid or names a schema that does not parse (the package's root)."""


class ApplyError(CatalogError):
    """The cluster could not be brought to the catalog's state."""
