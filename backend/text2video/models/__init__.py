"""Model folders: layout, demo weights, download, manifest, memory presets."""
