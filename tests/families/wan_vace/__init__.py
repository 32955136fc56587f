"""Tests of the Wan VACE family's helpers."""
