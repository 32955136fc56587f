"""Character photos (a request's ``reference_image``): decoded for real, limited in pixels, EXIF orientation
applied, stored as one RGB PNG in the job folder (what the worker reads; nothing to re-orient there)."""

from __future__ import annotations

from pathlib import Path

from ..exceptions import InvalidInput, UnsupportedMedia

IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}  # Pillow's format name -> what the API says
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "webp")


def store_reference_image(source: Path, dest: Path, *, max_pixels: int, field: str = "reference_image") -> tuple[
        int, int]:
    """Decode ``source`` (PNG, JPEG or WebP), check its size, apply its EXIF orientation and write it to ``dest``
    as an RGB PNG; returns (width, height). A file that is not such an image is refused naming ``field``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ..storage import atomic_write

    try:
        with Image.open(source) as image:
            if image.format not in IMAGE_FORMATS:
                raise UnsupportedMedia(f"{field} is a {image.format or 'unknown'} image, not PNG, JPEG or WebP",
                                       field=field, value=image.format,
                                       hint="Send the photo as PNG, JPEG or WebP.")
            width, height = image.size
            if width * height > max_pixels:  # checked on the header, before the pixels are decoded
                raise InvalidInput(f"{field} is {width}x{height} pixels, more than the {max_pixels} allowed",
                                   field=field, value=f"{width}x{height}",
                                   hint="Send a smaller photo (e.g. 1024 px on its long side).")
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise UnsupportedMedia(f"{field} is not a readable PNG, JPEG or WebP image ({exc})", field=field,
                               hint="Send a photo file (.png, .jpg, .webp).") from None
    with atomic_write(dest) as out:
        upright.save(out, format="PNG")
    return upright.size


__all__ = ["store_reference_image", "IMAGE_FORMATS", "IMAGE_EXTENSIONS"]
