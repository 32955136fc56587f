"""Video model families (placeholder: the lead replaces this with the FAMILIES registry)."""
