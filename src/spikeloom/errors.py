"""Error hierarchy. Every user error is a `SpikeloomError`; the CLI prints it as one line
`error: ...` and exits with code 2. Messages name the problem and the fix."""

from __future__ import annotations


class SpikeloomError(Exception):
    """A problem with the user's input or environment (not a bug in spikeloom)."""


class ConfigError(SpikeloomError, ValueError):
    """A bad flag, option value or configuration file."""


class DataError(SpikeloomError):
    """A dataset that is missing, malformed, or does not fit the model."""


class CheckpointError(SpikeloomError):
    """A checkpoint that is missing, corrupt or of the wrong kind."""


class OutputError(SpikeloomError):
    """An output location that cannot be written."""


class InfeasibleError(SpikeloomError):
    """A request that has no solution (e.g. a neuron that fits no crossbar)."""
