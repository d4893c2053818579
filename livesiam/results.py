"""Plain data passed between the stages of a frame's processing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Frame:
    """One frame from a source: ``index`` counts from 0 in reading order, ``time`` is its
    timestamp in seconds, ``image`` is RGB uint8 (height, width, 3)."""

    index: int
    time: float
    image: np.ndarray


@dataclass
class FaceResult:
    """A face in a frame and what was decided about it.

    ``box`` is (x, y, w, h) in pixels of the original frame; ``label`` is the name of the
    target it matched, or None; ``score`` is the similarity to the best-matching target
    (higher means more alike); ``track`` is the track id, or None when faces are not tracked.
    """

    box: tuple[int, int, int, int]
    label: str | None
    score: float
    track: int | None = None
    best: str | None = None
    """The most similar target even when below threshold (for display and debugging)."""

    def to_json(self) -> dict:
        return {"box": [int(v) for v in self.box], "track": self.track, "label": self.label,
                "score": round(float(self.score), 4), "best": self.best}


@dataclass
class FrameResult:
    index: int
    time: float
    faces: list[FaceResult] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"frame": self.index, "time": round(self.time, 4),
                "faces": [face.to_json() for face in self.faces]}
