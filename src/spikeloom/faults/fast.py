"""Fast engine (placeholder: delegates to the reference until the delta engine lands)."""

from __future__ import annotations

from spikeloom.faults.reference import ReferenceEngine


class FastEngine(ReferenceEngine):
    name = "fast"
