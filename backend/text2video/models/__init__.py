"""Model folders: layout, inventory (what is present, missing, which variant), demo weights, download, manifest,
memory presets."""
