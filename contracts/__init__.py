"""Schakel's event contracts. Importing this package registers every event model."""

from contracts import capacity, contracting, doorbraak, intake, pool

__all__ = ["capacity", "contracting", "doorbraak", "intake", "pool"]
