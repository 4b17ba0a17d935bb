"""Errors a user can act on: each names the file and what to do."""


class CallQAError(Exception):
    """Base class: the CLI prints the message and exits 2."""


class AudioError(CallQAError):
    """A recording that cannot be decoded (corrupt, empty, not audio, unreadable)."""


class TranscriptFormatError(CallQAError):
    """A transcript file that cannot be imported."""


class ModelError(CallQAError):
    """A speech model that cannot be found or loaded."""
