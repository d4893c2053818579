"""Exceptions raised by LiveSiam. The CLI turns each into one line and an exit code."""


class LiveSiamError(Exception):
    """Base class: the message says what was wrong and what to do about it."""


class InputError(LiveSiamError):
    """A file or argument given by the user is missing, unreadable or malformed."""


class NoFaceError(InputError):
    """An image that must show a face shows none the detector can find."""


class SourceError(LiveSiamError):
    """A video source cannot be opened or stops giving frames."""


class OutputError(LiveSiamError):
    """A result file or folder cannot be written."""


class ModelError(LiveSiamError):
    """Weights, the detector or the manifest are missing or do not fit together."""


class ConfigError(LiveSiamError):
    """A configuration file or option has an unknown key or a bad value."""


class DatasetError(LiveSiamError):
    """A training or evaluation dataset cannot be used."""
