"""Where the detector's eyes, nose tip and mouth centre fall in dlib's 150x150 face chips.

The encoder initialised from dlib's network reads faces laid out as ``dlib.get_face_chip``
lays them out (five-point landmarks, padding 0.25). Our runtime aligns by the MediaPipe
keypoints instead, so it needs their mean positions in that layout. This script measures them
on LFW images of the training folds: for each image it finds dlib's chip transform (by cutting
a chip from an image whose pixels hold their own coordinates), maps the MediaPipe keypoints
through it, and prints the mean and spread. Needs the teacher (`make teacher`).

    python tools/fit_chip_layout.py ../shared/data/faces/lfw --folds 1,2,3,4,5,6 --limit 1500
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def chip_to_image(dlib, details, shape_hw) -> np.ndarray:
    """The 2x3 affine taking chip pixels to source-image pixels, fitted from a coordinate
    image pushed through dlib's own chip extraction."""
    h, w = shape_hw
    if max(h, w) > 255 * 16:
        raise ValueError("image too large for coordinate coding")
    ys, xs = np.mgrid[0:h, 0:w]
    # Coordinates to 1/16 pixel need 12 bits: high and low parts in separate channels.
    code_x = np.stack([xs * 16 // 256, xs * 16 % 256, np.zeros_like(xs)], -1).astype(np.uint8)
    code_y = np.stack([ys * 16 // 256, ys * 16 % 256, np.zeros_like(ys)], -1).astype(np.uint8)
    points = []
    for code in (code_x, code_y):
        chip = dlib.extract_image_chip(np.ascontiguousarray(code), details).astype(np.float64)
        points.append(chip)
    # Interpolating the high and low bytes separately is exact away from a wrap of the low
    # byte; fitting the affine robustly below discards those pixels.
    sx = (points[0][..., 0] * 256 + points[0][..., 1]) / 16.0
    sy = (points[1][..., 0] * 256 + points[1][..., 1]) / 16.0
    rows, cols = sx.shape
    cy, cx = np.mgrid[0:rows, 0:cols]
    inside = (sx > 1) & (sy > 1) & (sx < w - 2) & (sy < h - 2)
    design = np.stack([cx[inside], cy[inside], np.ones(inside.sum())], -1)
    target = np.stack([sx[inside], sy[inside]], -1)
    keep = np.ones(len(design), bool)
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(design[keep], target[keep], rcond=None)
        err = np.linalg.norm(design @ coef - target, axis=1)
        keep = err < max(0.5, 3 * np.median(err))
    return coef.T  # (2, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lfw", type=Path)
    parser.add_argument("--pairs", type=Path, default=None)
    parser.add_argument("--folds", default="1,2,3,4,5,6")
    parser.add_argument("--limit", type=int, default=1500)
    parser.add_argument("--size", type=int, default=150)
    args = parser.parse_args()

    import dlib
    import face_recognition_models as models
    from tqdm import tqdm

    from livesiam.config import DetectOptions
    from livesiam.detect import FaceDetector
    from livesiam.images import load_image
    from livesiam.training.data import lfw_folds, scan_identities

    pairs = args.pairs or args.lfw / "pairs-dev.txt"
    folds = lfw_folds(pairs)
    names = set().union(*(folds[int(k) - 1] for k in args.folds.split(",")))
    files = sorted(p for name, paths in scan_identities(args.lfw).items() if name in names
                   for p in paths)
    rng = np.random.default_rng(0)
    files = [files[i] for i in sorted(rng.permutation(len(files))[:args.limit])]

    hog = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    found = []
    with FaceDetector(DetectOptions(min_confidence=0.5)) as detector:
        for path in tqdm(files, unit="img"):
            image = load_image(path)
            ours, theirs = detector.detect(image), hog(image, 1)
            if len(ours) != 1 or len(theirs) != 1:
                continue  # one face each, so the two surely agree on who
            shape = predictor(image, theirs[0])
            details = dlib.get_face_chip_details(shape, size=args.size, padding=0.25)
            to_image = np.vstack([chip_to_image(dlib, details, image.shape[:2]), [0, 0, 1]])
            to_chip = np.linalg.inv(to_image)[:2]
            kp = ours[0].keypoints[:4]
            found.append(kp @ to_chip[:, :2].T + to_chip[:, 2])
    found = np.array(found)
    mean, spread = found.mean(0), found.std(0)
    print(f"{len(found)} faces of {len(files)} images")
    for name, m, s in zip(("right eye", "left eye", "nose tip", "mouth"), mean, spread):
        print(f"{name:10s} x {m[0]:8.4f} y {m[1]:8.4f}   (sd {s[0]:.2f}, {s[1]:.2f})")


if __name__ == "__main__":
    main()
