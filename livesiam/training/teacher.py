"""The distillation teacher: dlib's ResNet face embedder, through the face_recognition package.

Optional: installed by `make teacher`. The runtime never imports it. Teacher embeddings of a
dataset are computed once, from the original images and the boxes our detector found (dlib
aligns with its own five-point model), and cached beside the crop cache.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..images import load_image
from .data import FaceSet

log = logging.getLogger(__name__)

TEACHER_DIM = 128


def _face_recognition():
    try:
        import face_recognition
    except ImportError as exc:
        raise ModelError("the dlib teacher is not installed; run `make teacher`") from exc
    return face_recognition


def teacher_embeddings(faces: FaceSet, root: str | Path, cache_dir: str | Path,
                       tag: str = "") -> np.ndarray:
    """(n, 128) dlib embeddings of ``faces`` (images under ``root``), cached by dataset name."""
    from tqdm import tqdm

    cache = Path(cache_dir) / f"teacher-{faces.dataset}{tag}-v1.npz"
    if cache.is_file():
        data = np.load(cache)
        if len(data["embeddings"]) == len(faces) and np.array_equal(data["paths"], faces.paths):
            return data["embeddings"]
        log.warning("%s does not match the dataset; recomputing", cache)

    fr = _face_recognition()
    root = Path(root)
    out = np.zeros((len(faces), TEACHER_DIM), dtype=np.float32)
    for i in tqdm(range(len(faces)), desc=f"teacher {faces.dataset}", unit="img"):
        image = load_image(root / str(faces.paths[i]))
        x, y, w, h = (int(v) for v in faces.boxes[i])
        location = [(y, x + w, y + h, x)]
        encoding = fr.face_encodings(image, known_face_locations=location)
        out[i] = encoding[0]

    cache.parent.mkdir(parents=True, exist_ok=True)
    part = cache.with_name(cache.name + ".part.npz")
    np.savez(part, embeddings=out, paths=faces.paths)
    part.replace(cache)
    return out
