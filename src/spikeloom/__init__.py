"""spikeloom: hardware/software co-design of spiking neural networks."""

from __future__ import annotations

__version__ = "0.1.0"
