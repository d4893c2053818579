"""Measuring how well a target is followed through a clip.

Ground truth is one box per frame in the OTB format (``x y w h`` separated by tabs, commas or
spaces, any line ending; zeros or NaN where the target is absent), or the knowledge that the
target is on screen throughout (``present``).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from .errors import InputError
from .results import FrameResult
from .track import iou

log = logging.getLogger(__name__)

MIN_IOU = 0.3


def read_truth(path: str | Path) -> list[tuple[float, float, float, float] | None]:
    """One entry per line: the target's box, or None where it is absent."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text file in UTF-8") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ground truth ({exc.strerror})") from exc
    boxes: list[tuple[float, float, float, float] | None] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [f for f in re.split(r"[\s,;]+", line.strip()) if f]
        if not fields:
            continue
        if len(fields) != 4:
            raise InputError(f"{path}:{number}: expected 4 values (x y w h), got {len(fields)}")
        try:
            values = [float(f) for f in fields]
        except ValueError as exc:
            raise InputError(f"{path}:{number}: not a number in {line.strip()!r}") from exc
        if any(math.isnan(v) for v in values) or values[2] <= 0 or values[3] <= 0:
            boxes.append(None)
        else:
            boxes.append((values[0], values[1], values[2], values[3]))
    if not boxes:
        raise InputError(f"{path}: no boxes")
    return boxes


def track_metrics(results: list[FrameResult], target: str,
                  truth: list | None = None) -> dict:
    """recall, precision, false_frames, id_switches and the mean score of the faces carrying
    the label (what template updating raises) of ``target`` over ``results``.

    With ``truth`` (a box or None per frame), a labelled face counts as right when its box
    overlaps the true box by IoU >= 0.3. Without, the target is taken to be on screen in every
    frame: any face with its label counts for recall, and a label on a face other than the
    frame's largest counts as false when several faces are present.
    """
    if truth is not None and len(truth) < len(results):
        log.warning("ground truth has %d boxes for %d frames; the target is taken as absent "
                    "from the frames without one", len(truth), len(results))
        truth = list(truth) + [None] * (len(results) - len(truth))

    present = hits = labelled = correct = false = switches = 0
    last_track = None
    scores: list[float] = []
    for result in results:
        true_box = truth[result.index] if truth is not None else "present"
        faces = [f for f in result.faces if f.label == target]
        is_present = true_box is not None
        present += is_present

        if truth is None:
            largest = max(result.faces, key=lambda f: f.box[2] * f.box[3], default=None)
            right = [f for f in faces if f is largest]
        else:
            right = [f for f in faces if is_present and iou(f.box, true_box) >= MIN_IOU]

        scores.extend(f.score for f in faces)
        if faces:
            labelled += 1
            correct += bool(right)
            false += len(faces) > len(right)
        if is_present and right:
            hits += 1
        if is_present and faces:
            track = faces[0].track
            if last_track is not None and track != last_track:
                switches += 1
            last_track = track

    return {
        "frames": len(results),
        "present_frames": present,
        "labelled_frames": labelled,
        "recall": round(hits / present, 6) if present else None,
        "precision": round(correct / labelled, 6) if labelled and truth is not None else None,
        "false_frames": false,
        "id_switches": switches,
        "mean_score": round(float(sum(scores) / len(scores)), 4) if scores else None,
    }
