"""Errors the answer core raises; each message is one line a person can act on."""


class RetrievalError(Exception):
    """Base class: something the user can fix (bad question, missing index…)."""


class QueryError(RetrievalError):
    """The question cannot be searched (empty, only punctuation…)."""


class IndexNotFoundError(RetrievalError):
    """No index exists at the given folder."""


class IndexMismatchError(RetrievalError):
    """The index was built with another model or chunker than the one in use."""


class IndexBusyError(RetrievalError):
    """Another ingest holds the index lock."""


class ManifestError(RetrievalError, ValueError):
    """A version's manifest is unreadable or malformed (a ValueError for older callers)."""


class VersionRetiredError(RetrievalError):
    """The loaded version was replaced and its rows retired: load the live one and ask again.

    Raised by a version whose rows are gone; the engine reloads and retries, so a user
    never sees it (nor an empty answer because of a publish)."""


class IndexDamagedError(RetrievalError):
    """A file of the index is missing, truncated or changed; the message says how to repair."""
