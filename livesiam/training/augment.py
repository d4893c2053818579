"""Augmentation of aligned face crops, as faces in the wild vary.

Each transform is mild enough that the face stays the same person and the alignment stays
roughly right: a horizontal flip, a small rotation and scale, light and colour changes, blur,
greyscale, and a random patch covering part of the face (a hand, a scarf, sunglasses).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class AugmentOptions:
    flip: float = 0.5
    """Probability of a horizontal flip."""
    max_rotation: float = 8.0
    """Largest rotation, in degrees."""
    max_scale: float = 0.08
    """Largest relative change of scale (0.08 means 92% to 108%)."""
    max_shift: float = 0.04
    """Largest shift, as a fraction of the crop side."""
    brightness: float = 0.3
    """Largest relative change of brightness."""
    contrast: float = 0.3
    """Largest relative change of contrast."""
    saturation: float = 0.4
    """Largest relative change of colour saturation."""
    grey: float = 0.1
    """Probability of turning the crop grey (as in infrared or old footage)."""
    blur: float = 0.15
    """Probability of a Gaussian blur (motion, focus, low resolution)."""
    occlusion: float = 0.2
    """Probability of covering a random patch of up to a third of the crop."""


def augment_crop(crop: np.ndarray, rng: np.random.Generator,
                 options: AugmentOptions) -> np.ndarray:
    """One randomly varied copy of an aligned RGB uint8 crop."""
    size = crop.shape[0]
    image = crop

    if rng.random() < options.flip:
        image = image[:, ::-1]

    angle = rng.uniform(-options.max_rotation, options.max_rotation)
    scale = 1.0 + rng.uniform(-options.max_scale, options.max_scale)
    shift = rng.uniform(-options.max_shift, options.max_shift, size=2) * size
    matrix = cv2.getRotationMatrix2D((size / 2.0, size / 2.0), angle, scale)
    matrix[:, 2] += shift
    image = cv2.warpAffine(np.ascontiguousarray(image), matrix, (size, size),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    pixels = image.astype(np.float32)
    if rng.random() < options.grey:
        pixels = np.repeat(pixels.mean(axis=2, keepdims=True), 3, axis=2)
    else:
        grey = pixels.mean(axis=2, keepdims=True)
        saturation = 1.0 + rng.uniform(-options.saturation, options.saturation)
        pixels = grey + (pixels - grey) * saturation
    mean = pixels.mean()
    contrast = 1.0 + rng.uniform(-options.contrast, options.contrast)
    brightness = 1.0 + rng.uniform(-options.brightness, options.brightness)
    pixels = ((pixels - mean) * contrast + mean) * brightness

    if rng.random() < options.blur:
        sigma = rng.uniform(0.5, 1.6)
        pixels = cv2.GaussianBlur(pixels, (0, 0), sigma)

    if rng.random() < options.occlusion:
        h, w = (rng.uniform(0.15, 0.35, size=2) * size).astype(int)
        y, x = rng.integers(0, size - h), rng.integers(0, size - w)
        pixels[y:y + h, x:x + w] = rng.uniform(0, 255, size=3)

    return np.clip(pixels, 0, 255).astype(np.uint8)
