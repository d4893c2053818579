"""Face datasets for training and evaluation: folders of identity folders.

Detection and alignment run once per dataset and are cached as one .npz file of aligned crops,
so training epochs and evaluations read crops straight from memory.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError, InputError
from ..images import IMAGE_SUFFIXES, load_image

log = logging.getLogger(__name__)

CACHE_VERSION = 1


@dataclass
class FaceSet:
    """Aligned crops with their identities.

    ``whole`` marks images in which no face was found and that were used whole (pre-cropped
    sets); ``boxes`` is each face's (x, y, w, h) in its source image, for a teacher that aligns
    faces its own way.
    """

    crops: np.ndarray          # (n, size, size, 3) uint8
    identities: np.ndarray     # (n,) str
    paths: np.ndarray          # (n,) str, relative to the dataset root
    whole: np.ndarray          # (n,) bool
    boxes: np.ndarray          # (n, 4) int32
    dataset: str = ""

    def __len__(self) -> int:
        return len(self.identities)

    def subset(self, keep: np.ndarray) -> "FaceSet":
        return FaceSet(self.crops[keep], self.identities[keep], self.paths[keep],
                       self.whole[keep], self.boxes[keep], self.dataset)

    @staticmethod
    def concat(sets: list["FaceSet"]) -> "FaceSet":
        if not sets:
            raise DatasetError("no datasets to combine")
        prefixed = [np.char.add(f"{s.dataset}/", s.identities.astype(str)) for s in sets]
        return FaceSet(np.concatenate([s.crops for s in sets]), np.concatenate(prefixed),
                       np.concatenate([np.char.add(f"{s.dataset}/", s.paths.astype(str))
                                       for s in sets]),
                       np.concatenate([s.whole for s in sets]),
                       np.concatenate([s.boxes for s in sets]), "+".join(s.dataset for s in sets))


def scan_identities(root: str | Path) -> dict[str, list[Path]]:
    """Identity name -> image files, for a folder of identity folders.

    Empty identity folders are reported and skipped; a root without any images is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder of identity folders")
    identities: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(p for p in folder.iterdir()
                        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            log.warning("%s: no images, identity skipped", folder)
            continue
        identities[folder.name] = images
    if not identities:
        raise DatasetError(f"{root}: no identity folder holds any image")
    return identities


def lfw_folds(pairs_file: str | Path) -> list[set[str]]:
    """The identities named in each fold of an LFW-format pairs file, fold 1 first."""
    return [set(names) for names in _lfw_fold_names(pairs_file)]


def _lfw_fold_names(pairs_file: str | Path) -> list[list[str]]:
    pairs = read_lfw_pairs(pairs_file)
    folds: dict[int, list[str]] = {}
    for left, right, _same, fold in pairs:
        folds.setdefault(fold, []).extend([left.split("/")[0], right.split("/")[0]])
    return [folds[k] for k in sorted(folds)]


def read_lfw_pairs(pairs_file: str | Path) -> list[tuple[str, str, bool, int]]:
    """(left, right, same, fold) for each pair; paths are ``Name/Name_NNNN.jpg``, folds from 1."""
    path = Path(pairs_file)
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text file in UTF-8") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read pairs file ({exc.strerror})") from exc
    try:
        n_folds, per_fold = int(lines[0][0]), int(lines[0][1])
        if n_folds < 1 or per_fold < 1:
            raise ValueError("folds and pairs must be positive")
    except (IndexError, ValueError) as exc:
        raise InputError(f"{path}: first line must be '<folds> <pairs per half-fold>', two "
                         f"positive numbers") from exc

    def image(name: str, index: str) -> str:
        if not index.isdigit():
            raise InputError(f"{path}:{number}: image number {index!r} is not a number")
        return f"{name}/{name}_{int(index):04d}.jpg"

    pairs = []
    for number, fields in enumerate(lines[1:], start=2):
        fold = (number - 2) // (2 * per_fold) + 1
        if len(fields) == 3:
            pairs.append((image(fields[0], fields[1]), image(fields[0], fields[2]), True, fold))
        elif len(fields) == 4:
            pairs.append((image(fields[0], fields[1]), image(fields[2], fields[3]), False, fold))
        else:
            raise InputError(f"{path}:{number}: expected 3 or 4 fields, got {len(fields)}")
    if len(pairs) != n_folds * 2 * per_fold:
        raise InputError(f"{path}: header promises {n_folds * 2 * per_fold} pairs, "
                         f"file holds {len(pairs)}")
    return pairs


def read_csv_pairs(pairs_file: str | Path, folds: int = 10) -> list[tuple[str, str, bool, int]]:
    """(left, right, same, fold) from a CSV with header ``left,right,same``; folds assigned in
    order, ``folds`` contiguous blocks of about equal size."""
    path = Path(pairs_file)
    try:
        # utf-8-sig: spreadsheets start their CSV files with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text file in UTF-8") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read pairs file ({exc.strerror})") from exc
    if not rows or not {"left", "right", "same"} <= set(rows[0]):
        raise InputError(f"{path}: expected a CSV with header left,right,same")
    pairs = []
    for i, row in enumerate(rows):
        if any(row.get(k) is None or not row[k].strip() for k in ("left", "right", "same")):
            raise InputError(f"{path}:{i + 2}: expected three values: left,right,same")
        if row["same"].strip() not in ("0", "1"):
            raise InputError(f"{path}:{i + 2}: 'same' must be 0 or 1, got {row['same']!r}")
        fold = i * folds // len(rows) + 1
        pairs.append((row["left"].strip(), row["right"].strip(), row["same"].strip() == "1", fold))
    return pairs


def _pick_face(faces: list, image_shape: tuple[int, ...], pick: str):
    if pick == "centre":
        cy, cx = image_shape[0] / 2.0, image_shape[1] / 2.0
        return min(faces, key=lambda f: (f.centre[0] - cx) ** 2 + (f.centre[1] - cy) ** 2)
    return max(faces, key=lambda f: f.area)


def build_faceset(root: str | Path, name: str, pick: str = "largest", size: int = 112,
                  identities: dict[str, list[Path]] | None = None,
                  detector_model: str = "short",
                  files: list[tuple[str, Path]] | None = None,
                  layout: str = "arcface") -> FaceSet:
    """Detect, pick and align one face per image of a folder of identity folders.

    ``pick`` is "centre" (the face nearest the image centre, for centred sets such as LFW) or
    "largest". Images in which no face is found are used whole and marked in ``whole``;
    unreadable images are reported and skipped; ``layout`` names the crop layout (see
    ``align.LAYOUTS``). ``files`` ((identity, path) pairs under
    ``root``) replaces the scan of ``root`` when only some images are wanted.
    """
    from tqdm import tqdm

    from ..align import align_face, whole_image_crop
    from ..config import DetectOptions
    from ..detect import FaceDetector

    root = Path(root)
    if files is None:
        identities = identities if identities is not None else scan_identities(root)
        files = [(ident, path) for ident, paths in identities.items() for path in paths]

    crops, idents, rel_paths, whole, boxes = [], [], [], [], []
    skipped = 0
    # A low confidence floor: every image here is known to hold a face, and a weak detection
    # aligned by its keypoints is still better than the whole image.
    options = DetectOptions(model=detector_model, min_confidence=0.3, min_face_px=12)
    with FaceDetector(options) as detector:
        for ident, path in tqdm(files, desc=f"aligning {name}", unit="img", leave=False):
            try:
                image = load_image(path)
            except InputError as exc:
                log.warning("%s; skipped", exc)
                skipped += 1
                continue
            faces = detector.detect(image)
            if faces:
                face = _pick_face(faces, image.shape, pick)
                crops.append(align_face(image, face, size, layout))
                boxes.append(face.box)
                whole.append(False)
            else:
                crops.append(whole_image_crop(image, size))
                boxes.append((0, 0, image.shape[1], image.shape[0]))
                whole.append(True)
            idents.append(ident)
            rel_paths.append(str(path.relative_to(root)) if path.is_relative_to(root)
                             else str(path))

    if not crops:
        raise DatasetError(f"{root}: no readable image")
    n_whole = int(np.sum(whole))
    log.info("%s: %d images, %d used whole (no face found), %d unreadable",
             name, len(crops), n_whole, skipped)
    return FaceSet(np.stack(crops), np.array(idents), np.array(rel_paths), np.array(whole),
                   np.array(boxes, dtype=np.int32), name)


def cached_faceset(root: str | Path, name: str, cache_dir: str | Path, pick: str = "largest",
                   size: int = 112, detector_model: str = "short",
                   layout: str = "arcface") -> FaceSet:
    """build_faceset, read from ``cache_dir`` when it was built before with the same settings
    from the same folder holding the same image files; otherwise built again."""
    shape = f"{size}" if layout == "arcface" else f"{size}-{layout}"
    cache = Path(cache_dir) / f"faces-{name}-{pick}-{shape}-{detector_model}-v{CACHE_VERSION}.npz"
    root = Path(root)
    identities = scan_identities(root)
    files = sorted(str(p.relative_to(root)) for paths in identities.values() for p in paths)
    if cache.is_file():
        data = np.load(cache, allow_pickle=False)
        if "files" in data:
            same = str(data["root"]) == str(root.resolve()) and list(data["files"]) == files
        else:  # written before caches recorded their folder: its images must still be there
            same = set(data["paths"].astype(str)) <= set(files)
        if same:
            return FaceSet(data["crops"], data["identities"], data["paths"], data["whole"],
                           data["boxes"], name)
        log.warning("%s was built from other images than %s now holds; building it again",
                    cache, root)
    faces = build_faceset(root, name, pick, size, identities=identities,
                          detector_model=detector_model, layout=layout)
    cache.parent.mkdir(parents=True, exist_ok=True)
    part = cache.with_name(cache.name + ".part.npz")
    np.savez(part, crops=faces.crops, identities=faces.identities, paths=faces.paths,
             whole=faces.whole, boxes=faces.boxes, root=str(root.resolve()),
             files=np.array(files))
    part.replace(cache)
    return faces
