"""Reading still images the way a person expects to see them.

EXIF orientation is honoured, and grey, palette, RGBA and 16-bit files all come back as
8-bit RGB arrays of shape (height, width, 3).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _to_uint8(array: np.ndarray, top: int | None = None) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        top = 1.0 if float(np.nanmax(array)) <= 1.0 else 255.0
        return np.clip(np.nan_to_num(array) * (255.0 / top), 0, 255).astype(np.uint8)
    # 32-bit integers: PIL stores some 16-bit files (PGM) in this wider type, so scale by what
    # the sample width can hold rather than by the bit depth of the container. ``top`` is given
    # when the mode states the width; guessing from the content would brighten a dark image.
    if top is None:
        top = 65535 if int(array.max(initial=0)) > 255 else 255
    return np.clip(array.astype(np.float64) * (255.0 / top), 0, 255).astype(np.uint8)


def to_rgb(image: Image.Image) -> np.ndarray:
    """Convert a PIL image of any mode to an 8-bit RGB array."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = _to_uint8(np.asarray(image), 65535 if image.mode.startswith("I;16") else None)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent parts become white, as an image viewer would show them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def load_image(path: str | Path) -> np.ndarray:
    """Load an image file as an RGB uint8 array, upright according to its EXIF orientation.

    Raises InputError when the file is missing, is not an image, or cannot be decoded.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    try:
        with warnings.catch_warnings():
            # Pillow warns about images of 89 M pixels and refuses those over 178 M: the first
            # are read as they are, the second are reported as too large.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
                rgb = to_rgb(image)
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: image is too large to read safely ({exc})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc
    if rgb.ndim != 3 or rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise InputError(f"{path}: image is too small ({rgb.shape[1]}x{rgb.shape[0]})")
    return np.ascontiguousarray(rgb)
