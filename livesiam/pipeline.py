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
from .templates import TargetTemplates, TemplateUpdater

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
    stages: Stages
    targets: list[TargetTemplates]
    threshold: float
    updater: TemplateUpdater
    timing: dict = field(default_factory=lambda: {"frames": 0, "faces": 0})

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    def faces(self, frame: Frame) -> tuple[list[Face], np.ndarray]:
        """Detected faces of a frame and their embeddings (one batched encoder call)."""
        faces = self.stages.detector.detect(frame.image, timestamp_ms=int(frame.time * 1000))
        crops = align_faces(frame.image, faces, self.stages.embedder.input_size)
        return faces, self.stages.embedder.embed(crops)

    def process(self, frame: Frame) -> FrameResult:
        faces, embeddings = self.faces(frame)
        scores = score_matrix(embeddings, self.targets)
        matches = assign(scores, self.names, self.threshold)

        result = FrameResult(frame.index, frame.time)
        for face, embedding, match in zip(faces, embeddings, matches):
            result.faces.append(FaceResult(face.box, match.label, match.score, None, match.best))
            if match.label is not None:
                target = self.targets[self.names.index(match.label)]
                self.updater.consider(target, embedding, match.score, frame.index)
        self.timing["frames"] += 1
        self.timing["faces"] += len(faces)
        return result
