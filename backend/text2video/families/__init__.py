"""Video model families (placeholder package for the Wan VACE helpers; the lead replaces this file)."""
