"""Aligning a detected face to a fixed crop.

The eyes, nose tip and mouth centre from the detector are mapped by a similarity transform
(rotation, uniform scale, translation) onto fixed positions in a square crop. The ears are left
out: in a profile one of them is hidden and its estimated position would pull the fit.

Two layouts exist, and an encoder's manifest names the one it was trained on:
- "arcface": the positions of ArcFace-style 112x112 crops;
- "dlib-chip": where these keypoints fall, on average, in the 150x150 chips that
  ``dlib.get_face_chip`` cuts from its five-point landmarks (padding 0.25). Measured by
  ``tools/fit_chip_layout.py`` on 1,329 LFW faces of folds 1-6.
"""

from __future__ import annotations

import cv2
import numpy as np

from .detect import Face

# Eye, nose and mouth-centre positions in a 112x112 crop (mouth centre = mean of the corners).
REFERENCE_112 = np.array([
    [38.2946, 51.6963],   # person's right eye (left in the image)
    [73.5318, 51.5014],   # person's left eye
    [56.0252, 71.7366],   # nose tip
    [56.1396, 92.2848],   # mouth centre
], dtype=np.float64)


# The same four points in a 150x150 dlib face chip.
DLIB_CHIP_150 = np.array([
    [46.6722, 47.3401],
    [102.8756, 47.7506],
    [74.1192, 79.3486],
    [74.1152, 109.1087],
], dtype=np.float64)

LAYOUTS = {"arcface": (112, REFERENCE_112), "dlib-chip": (150, DLIB_CHIP_150)}
DEFAULT_LAYOUT = "arcface"


def reference_points(size: int, layout: str = DEFAULT_LAYOUT) -> np.ndarray:
    """The four keypoints' positions in a ``size`` x ``size`` crop of ``layout``."""
    try:
        base, points = LAYOUTS[layout]
    except KeyError:
        raise ValueError(f"unknown face layout {layout!r}; known: {', '.join(LAYOUTS)}") from None
    return points * (size / float(base))


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (2x3) taking points ``src`` onto ``dst``."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean

    # Closed-form fit over the complex plane: dst = a * src + t, with a = s * e^{i theta}.
    a = np.sum(dst_c[:, 0] * src_c[:, 0] + dst_c[:, 1] * src_c[:, 1])
    b = np.sum(dst_c[:, 1] * src_c[:, 0] - dst_c[:, 0] * src_c[:, 1])
    norm = np.sum(src_c ** 2)
    if norm <= 1e-12:
        raise ValueError("keypoints coincide; cannot fit an alignment")
    a, b = a / norm, b / norm

    matrix = np.array([[a, -b, 0.0], [b, a, 0.0]])
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def align_face(frame: np.ndarray, face: Face, size: int = 112,
               layout: str = DEFAULT_LAYOUT) -> np.ndarray:
    """The face cut from ``frame`` (RGB uint8) as an aligned ``size`` x ``size`` crop."""
    matrix = similarity_transform(face.keypoints[:4], reference_points(size, layout))
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def align_faces(frame: np.ndarray, faces: list[Face], size: int = 112,
                layout: str = DEFAULT_LAYOUT) -> np.ndarray:
    """All faces of a frame as one (n, size, size, 3) uint8 batch."""
    if not faces:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return np.stack([align_face(frame, face, size, layout) for face in faces])


def whole_image_crop(image: np.ndarray, size: int = 112) -> np.ndarray:
    """An image that is already a face crop, padded to a square and resized.

    Used for pre-cropped datasets in which the detector finds no face (tight crops lose the
    context BlazeFace needs); the face is assumed to fill the image.
    """
    height, width = image.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = cv2.copyMakeBorder(image, top, side - height - top, left, side - width - left,
                                cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interp)
