"""Matching the faces of a frame against the targets' templates.

Every face is scored against every target (nearest-template cosine similarity). Labels are then
given greedily from the highest score down, each target to at most one face and each face to
at most one target: one person cannot stand in two places of the same frame, and giving the
label to the most similar face keeps a lookalike beside the target from taking it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .templates import TargetTemplates


@dataclass
class Match:
    label: str | None
    score: float
    best: str | None
    """The most similar target, even below the threshold."""


def score_matrix(embeddings: np.ndarray, targets: list[TargetTemplates]) -> np.ndarray:
    """(faces, targets) similarities."""
    if len(embeddings) == 0 or not targets:
        return np.zeros((len(embeddings), len(targets)), dtype=np.float32)
    return np.stack([t.score(embeddings) for t in targets], axis=1)


def assign(scores: np.ndarray, names: list[str], threshold: float) -> list[Match]:
    """Labels for each face from a (faces, targets) score matrix."""
    n_faces = scores.shape[0]
    if scores.shape[1] == 0:
        return [Match(None, 0.0, None) for _ in range(n_faces)]
    best_target = scores.argmax(axis=1)
    matches = [Match(None, float(scores[i, best_target[i]]), names[best_target[i]])
               for i in range(n_faces)]
    order = np.dstack(np.unravel_index(np.argsort(-scores, axis=None), scores.shape))[0]
    taken_faces, taken_targets = set(), set()
    for face, target in order:
        score = float(scores[face, target])
        if score < threshold:
            break
        if face in taken_faces or target in taken_targets:
            continue
        matches[face] = Match(names[target], score, names[target])
        taken_faces.add(face)
        taken_targets.add(target)
    return matches
