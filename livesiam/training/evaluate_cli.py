"""`livesiam evaluate`: verification figures of the shipped (or any) weights on a dataset.

Pairs mode scores the pairs of an LFW-format pairs file or a CSV (``left,right,same``); identity
mode scores every same-person pair and every different-person pair of a folder of identity
folders. Faces are found, aligned and embedded exactly as at run time (the TFLite encoder on
CPU); images in which no face is found are embedded whole and counted in ``no_face``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import DatasetError, InputError
from .data import build_faceset, read_csv_pairs, read_lfw_pairs, scan_identities
from .evaluate import evaluate_scores, identity_scores, pair_scores

log = logging.getLogger(__name__)


def read_pairs(path: str | Path, folds: list[int] | None = None) -> list:
    path = Path(path)
    pairs = read_csv_pairs(path) if path.suffix.lower() == ".csv" else read_lfw_pairs(path)
    if folds:
        known = sorted({p[3] for p in pairs})
        missing = [f for f in folds if f not in known]
        if missing:
            raise InputError(f"{path}: no fold {missing[0]}; the file has folds {known}")
        pairs = [p for p in pairs if p[3] in folds]
    return pairs


def _faces(root: Path, files: list[tuple[str, Path]], pick: str, size: int, name: str,
           layout: str):
    return build_faceset(root, name, pick, size, files=files, layout=layout)


def pairs_faces(pairs_file: str | Path, root: str | Path, size: int,
                folds: list[int] | None = None, pick: str = "centre",
                layout: str = "arcface"):
    """The pairs (of the chosen folds) and the aligned faces of every image they name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"--root {root}: not a folder")
    pairs = read_pairs(pairs_file, folds)
    names = sorted({p[0] for p in pairs} | {p[1] for p in pairs})
    missing = {n for n in names if not (root / n).is_file()}
    if missing:
        log.warning("%d images named by the pairs are missing under %s (first: %s); their "
                    "pairs are skipped", len(missing), root, sorted(missing)[0])
    files = [(Path(n).parent.name, root / n) for n in names if n not in missing]
    if not files:
        raise DatasetError(f"no image of {pairs_file} exists under {root}")
    return pairs, _faces(root, files, pick, size, "pairs", layout)


def score_pairs(pairs: list, faces, embeddings: np.ndarray, out_dir: str | Path | None,
                title: str = "", similarity=None) -> dict:
    """metrics.json figures of ``pairs`` given each face's embedding. ``similarity(a, b)``
    defaults to the dot product of unit-length embeddings."""
    by_path = dict(zip(faces.paths.astype(str), embeddings))
    usable = [p for p in pairs if p[0] in by_path and p[1] in by_path]
    if len(usable) < len(pairs):
        log.warning("%d of %d pairs skipped: an image was missing or unreadable",
                    len(pairs) - len(usable), len(pairs))
    scores, same, pair_folds = pair_scores(by_path, usable, similarity)
    if same.all() or (~same).all():
        raise DatasetError("the pairs need both same-person and different-person pairs")
    metrics = evaluate_scores(scores, same, pair_folds, out_dir, title)
    names = {p[0] for p in usable} | {p[1] for p in usable}
    metrics["no_face"] = int(faces.whole[np.isin(faces.paths, list(names))].sum())
    metrics["folds"] = sorted({int(f) for f in pair_folds})
    return metrics


def evaluate_pairs(embedder, pairs_file: str | Path, root: str | Path, out_dir: str | Path,
                   folds: list[int] | None = None, pick: str = "centre") -> dict:
    pairs, faces = pairs_faces(pairs_file, root, embedder.input_size, folds, pick,
                               embedder.layout)
    embeddings = embedder.embed_many(faces.crops)
    return score_pairs(pairs, faces, embeddings, out_dir, Path(pairs_file).name,
                       similarity=embedder.score)


def evaluate_identities(embedder, root: str | Path, out_dir: str | Path,
                        pick: str = "largest") -> dict:
    root = Path(root)
    faces = identity_faces(root, embedder.input_size, pick, embedder.layout)
    embeddings = embedder.embed_many(faces.crops)
    return score_identities(faces, embeddings, out_dir, root.name,
                            offset=embedder.score_offset)


def identity_faces(root: str | Path, size: int, pick: str = "largest",
                   layout: str = "arcface"):
    root = Path(root)
    identities = scan_identities(root)
    files = [(ident, path) for ident, paths in identities.items() for path in paths]
    faces = _faces(root, files, pick, size, root.name, layout)
    if len(np.unique(faces.identities)) < 2:
        raise DatasetError(f"{root}: needs at least two identities")
    return faces


def score_identities(faces, embeddings: np.ndarray, out_dir: str | Path | None,
                     title: str = "", euclidean: bool = False, offset: float = 0.0) -> dict:
    """metrics.json figures of every pair among ``faces`` (accuracy is None: there are no
    folds to choose a threshold on apart from the pairs it would judge)."""
    from ..embed import calibrate

    scores, same = identity_scores(embeddings, faces.identities, euclidean=euclidean)
    if not euclidean:
        scores = calibrate(scores, offset)
    if not same.any():
        raise DatasetError(f"{title}: no identity has two images, so no same-person pair")
    metrics = evaluate_scores(scores, same, None, out_dir, title)
    metrics["no_face"] = int(faces.whole.sum())
    metrics["images"] = int(len(faces))
    metrics["identities"] = int(len(np.unique(faces.identities)))
    return metrics
