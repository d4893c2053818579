"""Face detection with MediaPipe's BlazeFace models through the Tasks API.

A detector is created for one running mode. In image mode every call is independent; in video
mode calls carry timestamps that must never go backwards, which this wrapper guarantees even
when a source repeats or reorders them.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .config import DetectOptions
from .errors import ModelError

log = logging.getLogger(__name__)

MODEL_FILES = {
    "short": "face_detection_short_range.tflite",
    "full": "face_detection_full_range_sparse.tflite",
}
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")
MAX_DETECT_SIDE = 8192
"""Longest side, in pixels, of the image handed to the detector."""


@dataclass(frozen=True)
class Face:
    """One detected face in a frame.

    ``box`` is (x, y, w, h) in pixels of the frame it was found in; ``keypoints`` is a (6, 2)
    float array of pixel positions in KEYPOINT_NAMES order ("right" is the person's right,
    which appears on the left of the image); ``confidence`` is the detector's score.
    """

    box: tuple[int, int, int, int]
    keypoints: np.ndarray
    confidence: float

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2.0, y + h / 2.0


def yaw(keypoints: np.ndarray) -> float:
    """Sideways turn of a face from its keypoints: the nose tip's offset from the midpoint of
    the eyes along the eye line, in eye distances (0 frontal, about 0.35 at 30 degrees;
    infinite when the eyes coincide)."""
    right_eye, left_eye, nose = keypoints[0], keypoints[1], keypoints[2]
    distance = float(np.linalg.norm(left_eye - right_eye))
    if distance < 1e-6:
        return float("inf")
    axis = (left_eye - right_eye) / distance
    return float(np.dot(nose - (left_eye + right_eye) / 2.0, axis)) / distance


def detector_dir() -> Path:
    """Where the detector models were installed: $LIVESIAM_DETECTOR_DIR, else the environment."""
    override = os.environ.get("LIVESIAM_DETECTOR_DIR")
    if override:
        return Path(override)
    return Path(sys.prefix) / "share" / "livesiam" / "detector"


def model_path(model: str) -> Path:
    if model not in MODEL_FILES:
        raise ModelError(f"unknown detector model {model!r}; "
                         f"choose one of {', '.join(MODEL_FILES)}")
    path = detector_dir() / MODEL_FILES[model]
    if not path.is_file():
        raise ModelError(
            f"detector model {path} is not installed; run `make setup` "
            f"(or `python tools/install_detector.py --dest {detector_dir()}`)")
    return path


class FaceDetector:
    """Finds faces and their six keypoints in RGB frames.

    >>> with FaceDetector(DetectOptions(), video=True) as detector:  # doctest: +SKIP
    ...     faces = detector.detect(frame_rgb, timestamp_ms=0)
    """

    def __init__(self, options: DetectOptions | None = None, video: bool = False) -> None:
        self.options = options or DetectOptions()
        self.video = video
        self._last_ms = -1

        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        task_options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(model_path(self.options.model))),
            running_mode=mode,
            min_detection_confidence=self.options.min_confidence,
        )
        self._detector = vision.FaceDetector.create_from_options(task_options)

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def _next_timestamp(self, timestamp_ms: int | None) -> int:
        # MediaPipe rejects a timestamp that is not strictly greater than the last one; a
        # source with duplicated or missing timestamps must still be processable.
        wanted = self._last_ms + 1 if timestamp_ms is None else int(timestamp_ms)
        self._last_ms = max(wanted, self._last_ms + 1)
        return self._last_ms

    def detect(self, frame: np.ndarray, timestamp_ms: int | None = None) -> list[Face]:
        """Faces in an RGB uint8 frame, largest first."""
        if self._detector is None:
            raise RuntimeError("detector is closed")
        height, width = frame.shape[:2]

        scale = 1.0
        short_side = min(height, width)
        if short_side < self.options.upscale_below_px:
            scale = self.options.upscale_below_px / short_side
        # MediaPipe's image warping aborts the process on sides beyond 32767 pixels, and the
        # detector works at 128x128 anyway: a very wide strip or a panorama is never enlarged
        # past MAX_DETECT_SIDE on its long side, and shrunk to it when larger.
        scale = min(scale, MAX_DETECT_SIDE / max(height, width))
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC if scale > 1
                               else cv2.INTER_AREA)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB,
                               data=np.ascontiguousarray(frame))
        if self.video:
            result = self._detector.detect_for_video(image, self._next_timestamp(timestamp_ms))
        else:
            result = self._detector.detect(image)

        faces = []
        scaled_h, scaled_w = frame.shape[:2]
        for detection in result.detections:
            bb = detection.bounding_box
            x0 = max(0.0, bb.origin_x / scale)
            y0 = max(0.0, bb.origin_y / scale)
            x1 = min(float(width), (bb.origin_x + bb.width) / scale)
            y1 = min(float(height), (bb.origin_y + bb.height) / scale)
            box = (int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))
            if min(box[2], box[3]) < self.options.min_face_px:
                continue
            keypoints = np.array([[k.x * scaled_w / scale, k.y * scaled_h / scale]
                                  for k in detection.keypoints], dtype=np.float32)
            confidence = float(detection.categories[0].score) if detection.categories else 0.0
            faces.append(Face(box=box, keypoints=keypoints, confidence=confidence))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces
