"""A target's templates: the enrolled embeddings, frozen, and exemplars learned on the way.

Appearance drifts (pose, light, expression, glasses), and a matcher that only knows the
enrolment photo loses its target. Learning from frames fixes that, and opens a door to
poisoning: an impostor matched by mistake would teach the templates his own face. The rules
here keep that door shut:

* the enrolled embeddings never change and never leave;
* a face teaches only when it matched far above the threshold (``learn_margin``), matches the
  enrolled embeddings alone that well too, *and* either that match or its track's evidence
  reaches ``learn_threshold`` (by default the strict, door-level threshold), so a lookalike
  who passes the looser tracking threshold cannot teach;
* a learned exemplar counts only for faces within ``learned_reach`` below the threshold against
  the enrolled embeddings. Bounding the exemplars alone is not enough: a face may match an
  exemplar that matches the enrolment, and so sit twice the matching distance away from it,
  where other people are. With this floor, no chain of small steps from the target towards
  someone else gets that person named, however the exemplars drift, unless the enrolled
  embeddings alone already score them within ``learned_reach`` of the threshold;
* a candidate nearly identical to a template adds nothing and is skipped (``min_novelty``);
* learned exemplars are bounded (``max_exemplars``); the oldest leaves first;
* every update is logged with its frame and score.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import TemplateOptions
from .embed import calibrate

log = logging.getLogger(__name__)

POLICIES = ("none", "confident")


@dataclass
class Exemplar:
    embedding: np.ndarray
    frame: int
    score: float


@dataclass
class TargetTemplates:
    """Templates of one target person."""

    name: str
    enrolled: np.ndarray
    learned: list[Exemplar] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    floor: float = float("-inf")
    """Score against the enrolled embeddings below which learned exemplars are ignored; the
    TemplateUpdater sets it to threshold - learned_reach when it learns."""
    offset: float = 0.0
    """The encoder's score offset (``embed.calibrate``)."""

    def __post_init__(self) -> None:
        # A private copy: the caller's array stays its own, writable and unchanged.
        self.enrolled = np.array(self.enrolled, dtype=np.float32)
        if self.enrolled.ndim != 2 or len(self.enrolled) == 0:
            raise ValueError(f"target {self.name!r} needs at least one enrolled embedding")
        self.enrolled.setflags(write=False)
        self._stack = self.enrolled

    @property
    def embeddings(self) -> np.ndarray:
        """All templates, enrolled first: (m, dim)."""
        return self._stack

    def _restack(self) -> None:
        if self.learned:
            learned = np.stack([x.embedding for x in self.learned])
            self._stack = np.concatenate([self.enrolled, learned])
        else:
            self._stack = self.enrolled

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """(n,) score of each embedding against its nearest template; learned exemplars count
        only for embeddings that score at least ``floor`` against the enrolled ones."""
        # One product against every template; the enrolled ones come first in the stack.
        similarities = calibrate(np.asarray(embeddings) @ self._stack.T, self.offset)
        nearest = similarities.max(axis=1)
        if not self.learned:
            return nearest
        enrolled = similarities[:, :len(self.enrolled)].max(axis=1)
        return np.where(enrolled >= self.floor, nearest, enrolled)

    def enrolled_score(self, embeddings: np.ndarray) -> np.ndarray:
        """(n,) score of each embedding against the nearest enrolled embedding."""
        return calibrate((np.asarray(embeddings) @ self.enrolled.T).max(axis=1), self.offset)


class TemplateUpdater:
    """Applies a template-updating policy to targets after each frame's matching."""

    def __init__(self, options: TemplateOptions, threshold: float,
                 learn_threshold: float | None = None) -> None:
        if options.policy not in POLICIES:
            raise ValueError(f"unknown template policy {options.policy!r}; "
                             f"choose one of {', '.join(POLICIES)}")
        self.options = options
        self.threshold = threshold
        self.learn_threshold = threshold if learn_threshold is None else learn_threshold

    def consider(self, target: TargetTemplates, embedding: np.ndarray, score: float,
                 frame: int, evidence: float | None = None,
                 quality: Callable[[], bool] | None = None) -> bool:
        """Learn ``embedding`` (a face labelled as ``target`` with ``score``; ``evidence`` is
        its track's, when tracked) if the policy allows it; return whether it was learned.
        ``quality`` is asked last, only of faces that pass every identity check: it is the
        costly one, and nearly every face fails earlier."""
        o = self.options
        if o.policy == "none":
            return False
        if score < self.threshold + o.learn_margin:
            return False
        embedding = np.asarray(embedding, dtype=np.float32)
        anchored = float(target.enrolled_score(embedding[None])[0])
        if anchored < self.threshold + o.learn_margin:
            return False
        # Certainty comes from the enrolment itself, or from a track that has matched it at
        # that level over time: a lookalike who merely passes the threshold has neither.
        if max(anchored, evidence if evidence is not None else -np.inf) < self.learn_threshold:
            return False
        nearest = float(target.score(embedding[None])[0])
        if nearest > 1.0 - o.min_novelty:
            return False
        if quality is not None and not quality():
            return False

        target.floor = self.threshold - o.learned_reach
        target.learned.append(Exemplar(embedding, frame, score))
        if len(target.learned) > o.max_exemplars:
            target.learned.pop(0)
        target._restack()
        update = {"target": target.name, "frame": frame, "score": round(score, 4),
                  "enrolled_score": round(anchored, 4), "exemplars": len(target.learned)}
        target.updates.append(update)
        log.debug("template update: %s", update)
        return True


def face_quality(box: tuple, keypoints: np.ndarray, crop: np.ndarray,
                 options: TemplateOptions) -> tuple[bool, str]:
    """Whether a face is good enough to teach the templates, and if not, why."""
    import cv2

    if min(box[2], box[3]) < options.min_face_px:
        return False, "small"
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    if float(cv2.Laplacian(grey, cv2.CV_32F).var()) < options.min_sharpness:
        return False, "blurred"
    from .detect import yaw

    if abs(yaw(keypoints)) > options.max_yaw:
        return False, "pose"
    return True, ""
