"""Wan2.1 VACE family (placeholder package for its stand-alone helpers; the lead replaces this file)."""
