"""Model folders: layout, inventory (what is present, missing, which variant), the shared CLIP tokenizer, demo
weights, download, manifest, memory presets."""
