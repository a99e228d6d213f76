"""Schakel's event contracts. Importing this package registers every event model."""

from contracts import capacity, contracting, intake

__all__ = ["capacity", "contracting", "intake"]
