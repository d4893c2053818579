"""Targets and galleries: who LiveSiam is looking for.

A target is a name and the embeddings of one or more photos of that person. Targets come from
``--target [NAME=]PATH`` on the command line (PATH a photo or a folder of photos; values that
share a NAME are one target) or from a gallery file written by ``livesiam enroll``.

A gallery is one ``.npz`` file holding names, embeddings and the photo each came from, plus the
digest of the encoder that made them: embeddings of another encoder are not comparable, and
loading them is refused rather than silently giving nonsense scores. Writes are atomic.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, ModelError, NoFaceError
from .images import IMAGE_SUFFIXES, load_image

log = logging.getLogger(__name__)


def default_gallery_path() -> Path:
    """$LIVESIAM_GALLERY, else $XDG_DATA_HOME/livesiam/gallery.npz
    (~/.local/share/livesiam/gallery.npz)."""
    env = os.environ.get("LIVESIAM_GALLERY")
    if env:
        return Path(env)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "livesiam" / "gallery.npz"


@dataclass
class TargetSpec:
    name: str
    photos: list[Path]


def parse_target(value: str) -> tuple[str, Path]:
    """``[NAME=]PATH`` -> (name, path); the name defaults to the file stem or folder name."""
    name, sep, path_text = value.partition("=")
    if not sep or not name or os.sep in name or Path(value).exists():
        name, path_text = "", value
    path = Path(path_text)
    if not path.exists():
        raise InputError(f"--target {value}: {path} does not exist")
    if not name:
        name = path.name if path.is_dir() else path.stem
    return name, path


def photos_in(path: Path) -> list[Path]:
    if path.is_dir():
        photos = sorted(p for p in path.iterdir()
                        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            raise InputError(f"{path}: folder holds no photos")
        return photos
    return [path]


def target_specs(values: list[str]) -> list[TargetSpec]:
    """Group ``--target`` values by name, keeping first-seen order."""
    grouped: dict[str, list[Path]] = {}
    for value in values:
        name, path = parse_target(value)
        grouped.setdefault(name, []).extend(photos_in(path))
    return [TargetSpec(name, photos) for name, photos in grouped.items()]


def face_crop_from_image(image: np.ndarray, detector, size: int,
                         source: str = "image", layout: str = "arcface") -> np.ndarray:
    """The aligned crop of the face in an enrolment image: the largest face when several.

    A tight crop of a head (cut from a frame by a box) gives the detector too little context;
    when nothing is found, the image is tried again inside a border of its own edge pixels.
    """
    import cv2

    from .align import align_face

    faces = detector.detect(image)
    if not faces:
        h, w = image.shape[:2]
        pad_y, pad_x = h // 2, w // 2
        padded = cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REPLICATE)
        faces = detector.detect(padded)
        image = padded
    if not faces:
        raise NoFaceError(f"{source}: no face found; use a photo where the face is clearly "
                          f"visible")
    if len(faces) > 1:
        log.warning("%s: %d faces found; using the largest", source, len(faces))
    return align_face(image, faces[0], size, layout)


def face_crop_from_photo(photo: Path, detector, size: int,
                         layout: str = "arcface") -> np.ndarray:
    """face_crop_from_image for a photo file."""
    return face_crop_from_image(load_image(photo), detector, size, str(photo), layout)


def enrolment_embeddings(crops: np.ndarray, embedder, mirror: bool = False) -> np.ndarray:
    """Embeddings of enrolment crops; with ``mirror``, of their mirror images too.

    A face turned left and the same face turned right look alike mirrored, and one enrolment
    photo shows only one side: the mirror image gives the templates the other at no risk.
    """
    crops = np.asarray(crops)
    if mirror:
        crops = np.concatenate([crops, crops[:, :, ::-1]])
    return embedder.embed_many(np.ascontiguousarray(crops))


def embed_photos(photos: list[Path], detector, embedder, skip_bad: bool = False,
                 mirror: bool = False) -> np.ndarray:
    """(n, dim) embeddings of the face in each photo (2n with ``mirror``: the mirror images
    follow). With ``skip_bad``, photos without a face or unreadable are reported and skipped,
    and only a target left with none is an error."""
    crops = []
    for photo in photos:
        try:
            crops.append(face_crop_from_photo(photo, detector, embedder.input_size,
                                              embedder.layout))
        except InputError as exc:
            if not skip_bad:
                raise
            log.warning("%s; skipped", exc)
    if not crops:
        raise NoFaceError(f"no usable face in {', '.join(map(str, photos[:3]))}"
                          f"{' ...' if len(photos) > 3 else ''}")
    return enrolment_embeddings(np.stack(crops), embedder, mirror)


# --- gallery files ----------------------------------------------------------------------------

@dataclass
class Gallery:
    names: list[str]
    embeddings: np.ndarray      # (n, dim)
    sources: list[str]
    encoder: str                # digest of the encoder that made the embeddings

    def identities(self) -> dict[str, np.ndarray]:
        out: dict[str, list[np.ndarray]] = {}
        for name, embedding in zip(self.names, self.embeddings):
            out.setdefault(name, []).append(embedding)
        return {name: np.stack(v) for name, v in out.items()}


def encoder_digest(embedder) -> str:
    files = embedder.manifest.data.get("files", {})
    return files.get("encoder.tflite", {}).get("sha256", "")


def load_gallery(path: str | Path, embedder=None) -> Gallery:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no gallery there; enrol people with `livesiam enroll NAME "
                         f"PHOTO... --gallery {path}`")
    try:
        with np.load(path, allow_pickle=False) as data:
            gallery = Gallery([str(n) for n in data["names"]], data["embeddings"],
                              [str(s) for s in data["sources"]], str(data["encoder"]))
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        # An empty or truncated file (a copy cut short) is as unusable as a foreign one.
        raise InputError(f"{path}: not a LiveSiam gallery ({exc})") from exc
    if embedder is not None and gallery.encoder != encoder_digest(embedder):
        raise ModelError(f"{path}: enrolled with another encoder; enrol the people again with "
                         f"the current weights")
    return gallery


def save_gallery(path: str | Path, gallery: Gallery) -> None:
    """Write atomically: a crash leaves the old gallery, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, names=np.array(gallery.names, dtype=str),
                 embeddings=np.asarray(gallery.embeddings, dtype=np.float32),
                 sources=np.array(gallery.sources, dtype=str),
                 encoder=np.array(gallery.encoder))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def enroll(path: str | Path, name: str, photos: list[Path], detector, embedder,
           mirror: bool = False) -> Gallery:
    """Add ``name`` with the faces of ``photos`` (and, with ``mirror``, their mirror images)
    to the gallery at ``path`` (created if new)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Read, add and write under a lock: two enrolments at once must not lose either person.
    with _locked(path):
        return _enroll_locked(path, name, photos, detector, embedder, mirror)


@contextlib.contextmanager
def _locked(path: Path):
    import fcntl

    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _enroll_locked(path: Path, name: str, photos: list[Path], detector, embedder,
                   mirror: bool) -> Gallery:
    if path.exists():
        gallery = load_gallery(path, embedder)
    else:
        gallery = Gallery([], np.zeros((0, embedder.manifest.embedding_dim), np.float32), [],
                          encoder_digest(embedder))
    embeddings = embed_photos(photos, detector, embedder, mirror=mirror)
    sources = [str(p) for p in photos]
    if mirror:
        sources += [f"{p} (mirrored)" for p in photos]
    gallery = Gallery(gallery.names + [name] * len(sources),
                      np.concatenate([gallery.embeddings, embeddings]),
                      gallery.sources + sources, gallery.encoder)
    save_gallery(path, gallery)
    return gallery
