"""LiveSiam's encoder beside face_recognition's (the dlib ResNet) on the same faces.

One script, one run: the same images, found and aligned by the same detector, the same pairs
and the same evaluation code; only the embedder differs. face_recognition aligns each face with
its own five-point model from the box our detector found, and is scored by the negative
Euclidean distance of its embeddings, as it is meant to be. Needs `make teacher`.

    python benchmarks/reference.py [--data ../shared/data] [--out runs/reference]

Prints a table of accuracy (LFW pairs of held-out folds), AUC, EER and TAR at FAR for LFW pairs,
every pair among the held-out LFW images, ORL and Extended Yale B.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from livesiam.config import EmbedOptions  # noqa: E402
from livesiam.embed import Embedder  # noqa: E402
from livesiam.training.data import FaceSet, lfw_folds  # noqa: E402
from livesiam.training.evaluate_cli import (identity_faces, pairs_faces,  # noqa: E402
                                            score_identities, score_pairs)
from livesiam.training.teacher import teacher_embeddings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def dlib_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return -float(np.linalg.norm(a - b))


def row(name: str, model: str, m: dict) -> str:
    tar = m["tar_at_far"]
    cell = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    return (f"| {name} | {model} | {m['pairs']} | {cell(m['accuracy'])} | {m['auc']:.4f} | "
            f"{m['eer']:.4f} | {cell(tar['0.01'])} | {cell(tar['0.001'])} | "
            f"{cell(tar['0.0001'])} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--weights", default="")
    parser.add_argument("--folds", default="7,8")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "reference")
    parser.add_argument("--cache", type=Path, default=REPO / "cache")
    args = parser.parse_args()

    faces_dir = args.data / "faces"
    folds = [int(f) for f in args.folds.split(",")]
    embedder = Embedder(EmbedOptions(weights=args.weights, device="cpu"))
    size, layout = embedder.input_size, embedder.layout
    results: dict[str, dict[str, dict]] = {}

    def dlib(name: str, faces: FaceSet, root: Path) -> np.ndarray:
        # Training cached the teacher's embeddings of every LFW image, found by the same
        # detector with the same settings; reuse them rather than spend minutes again.
        cached = args.cache / f"teacher-{root.name}-v1.npz"
        if cached.is_file():
            data = np.load(cached)
            known = dict(zip(data["paths"].astype(str), data["embeddings"]))
            if all(p in known for p in faces.paths.astype(str)):
                return np.stack([known[p] for p in faces.paths.astype(str)])
        faces.dataset = "bench-" + "".join(c if c.isalnum() else "-" for c in name.lower())
        return teacher_embeddings(faces, root, args.cache)

    def both(name: str, faces: FaceSet, root: Path, score) -> None:
        ours = embedder.embed_many(faces.crops)
        theirs = dlib(name, faces, root)
        results[name] = {"livesiam": score(faces, ours, "livesiam", False),
                         "face_recognition": score(faces, theirs, "face_recognition", True)}

    pairs_file = faces_dir / "lfw" / "pairs-dev.txt"
    pairs, lfw_faces = pairs_faces(pairs_file, faces_dir / "lfw", size, folds, layout=layout)
    both(f"LFW pairs, folds {args.folds}", lfw_faces, faces_dir / "lfw",
         lambda f, e, model, euclid: score_pairs(
             pairs, f, e, args.out / f"lfw-pairs-{model}", f"LFW pairs ({model})",
             dlib_similarity if euclid else embedder.score))

    held = set().union(*(lfw_folds(pairs_file)[k - 1] for k in folds))
    held_dir = faces_dir / "lfw"
    all_held = identity_faces(held_dir, size, pick="centre", layout=layout)
    keep = np.isin(all_held.identities, sorted(held))
    both(f"LFW identities, folds {args.folds}", all_held.subset(keep), held_dir,
         lambda f, e, model, euclid: score_identities(
             f, e, args.out / f"lfw-identities-{model}", f"LFW identities ({model})", euclid,
             offset=embedder.score_offset))

    for name in ("orl", "yaleb"):
        root = faces_dir / name
        both(name, identity_faces(root, size, layout=layout), root,
             lambda f, e, model, euclid, name=name: score_identities(
                 f, e, args.out / f"{name}-{model}", f"{name} ({model})", euclid,
                 offset=embedder.score_offset))

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reference.json").write_text(json.dumps(results, indent=2))
    print("| set | embedder | pairs | accuracy | AUC | EER | TAR@FAR 1e-2 | TAR@FAR 1e-3 | "
          "TAR@FAR 1e-4 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, by_model in results.items():
        for model, metrics in by_model.items():
            print(row(name, model, metrics))


if __name__ == "__main__":
    main()
