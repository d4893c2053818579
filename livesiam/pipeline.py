"""One frame's journey: detect -> align -> embed -> match -> templates.

``Recognizer`` holds the stages and the targets; ``process`` turns a Frame into a FrameResult.
It is shared by every command (watch, analyze, demo), so they all behave alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .align import align_faces
from .config import Config
from .detect import Face, FaceDetector
from .embed import Embedder
from .match import assign, score_matrix
from .results import FaceResult, Frame, FrameResult
from .templates import TargetTemplates, TemplateUpdater, face_quality
from .track import Tracker, reliability

log = logging.getLogger(__name__)


@dataclass
class Stages:
    """The expensive stages, built once and shared."""

    detector: FaceDetector
    embedder: Embedder

    @classmethod
    def build(cls, config: Config, video: bool) -> "Stages":
        embedder = Embedder(config.embed)
        if embedder.input_size != config.align.size:
            config.align.size = embedder.input_size
        return cls(FaceDetector(config.detect, video=video), embedder)

    def close(self) -> None:
        self.detector.close()


@dataclass
class Recognizer:
    """Recognises the targets in successive frames of one source.

    With a tracker (the default), identity is decided per track with hysteresis; without,
    every frame is matched on its own. Templates learn only from faces whose identity is
    confident over time (the track's evidence, not one frame's score) and that pass the
    quality checks.
    """

    stages: Stages
    targets: list[TargetTemplates]
    threshold: float
    updater: TemplateUpdater
    tracker: Tracker | None = None
    counts: dict = field(default_factory=lambda: {"frames": 0, "faces": 0})

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    def faces(self, frame: Frame) -> tuple[list[Face], np.ndarray, np.ndarray]:
        """Detected faces of a frame, their aligned crops and their embeddings (one batched
        encoder call for all faces)."""
        faces = self.stages.detector.detect(frame.image, timestamp_ms=int(frame.time * 1000))
        embedder = self.stages.embedder
        crops = align_faces(frame.image, faces, embedder.input_size, embedder.layout)
        return faces, crops, embedder.embed(crops)

    def process(self, frame: Frame) -> FrameResult:
        faces, crops, embeddings = self.faces(frame)
        scores = score_matrix(embeddings, self.targets)
        result = FrameResult(frame.index, frame.time)
        self.counts["frames"] += 1
        self.counts["faces"] += len(faces)

        if self.tracker is None:
            matches = assign(scores, self.names, self.threshold)
            for i, (face, match) in enumerate(zip(faces, matches)):
                result.faces.append(FaceResult(face.box, match.label, match.score, None,
                                               match.best))
                if match.label is not None:
                    self._learn(frame.index, face, crops[i], embeddings[i], match.label,
                                match.score)
            return result

        weights = np.array([reliability(f.keypoints, f.confidence, self.tracker.options,
                                        self.stages.detector.options.min_confidence)
                            for f in faces])
        tracked = self.tracker.update(frame.index, frame.image, [f.box for f in faces],
                                      embeddings, scores, weights)
        for item in tracked:
            i = item.face_index
            row = scores[i]
            best = int(np.argmax(row)) if len(row) else None
            label = self.names[item.label] if item.label is not None else None
            score = float(row[item.label]) if item.label is not None else \
                (float(row[best]) if best is not None else 0.0)
            result.faces.append(FaceResult(faces[i].box, label, score, item.track,
                                           self.names[best] if best is not None else None))
            if label is not None and item.evidence >= self.threshold + \
                    self.updater.options.learn_margin:
                self._learn(frame.index, faces[i], crops[i], embeddings[i], label, score,
                            item.evidence)
        return result

    @classmethod
    def create(cls, config: Config, targets: dict[str, np.ndarray],
               stages: Stages | None = None) -> "Recognizer":
        """A recognizer for ``targets`` (name -> enrolled embeddings) with ``config``'s
        threshold, template policy and tracking; builds the stages unless given."""
        stages = stages or Stages.build(config, video=True)
        threshold = stages.embedder.manifest.threshold(config.match.threshold)
        manifest = stages.embedder.manifest
        templates = [TargetTemplates(name, embeddings, offset=manifest.score_offset)
                     for name, embeddings in targets.items()]
        learn = config.templates.learn_above
        if learn == "strict" and "strict" not in manifest.thresholds:
            learn_threshold = threshold  # weights without a strict threshold: the one in use
        else:
            learn_threshold = manifest.threshold(learn)
        updater = TemplateUpdater(config.templates, threshold, learn_threshold)
        tracker = Tracker(config.track, threshold, len(templates), [t.name for t in templates],
                          score_offset=manifest.score_offset) if config.track.enabled else None
        return cls(stages, templates, threshold, updater, tracker)

    def _learn(self, frame: int, face: Face, crop: np.ndarray, embedding: np.ndarray,
               label: str, score: float, evidence: float | None = None) -> None:
        if self.updater.options.policy == "none":
            return
        target = self.targets[self.names.index(label)]
        self.updater.consider(
            target, embedding, score, frame, evidence,
            quality=lambda: face_quality(face.box, face.keypoints, crop,
                                         self.updater.options)[0])
