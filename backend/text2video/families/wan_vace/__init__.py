"""Wan2.1 VACE family (placeholder: the lead replaces this with the family declaration)."""
