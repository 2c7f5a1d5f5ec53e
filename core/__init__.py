"""Neutral pieces several apps use; they import no app (DESIGN.md §2)."""
