"""Writing the outcome of an analysis: per-frame results, an annotated video and a summary.

An output folder holds

- ``frames.jsonl``: one JSON object per processed frame (see `FrameResult.to_json`), flushed
  line by line, so that whatever was processed before a crash or an interrupt is kept;
- ``annotated.mp4``: the annotated frames, when asked for;
- ``summary.json``: counts, speed and, per label, the time intervals in which it was seen.
  It is written once, at the end, and replaced atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import OutputError
from .results import FrameResult

log = logging.getLogger(__name__)

FRAMES_FILE = "frames.jsonl"
VIDEO_FILE = "annotated.mp4"
SUMMARY_FILE = "summary.json"
FALLBACK_VIDEO_FPS = 30.0
"""Frame rate of the annotated video when the source states none."""


def frame_period(times: Sequence[float], fps: float | None = None) -> float:
    """Seconds from one frame to the next: 1 / ``fps`` when known, else the median interval
    between consecutive ``times`` (robust to the odd dropped frame), else 1 / 30."""
    if fps and fps > 0:
        return 1.0 / fps
    steps = np.diff(np.asarray(times, dtype=np.float64))
    steps = steps[steps > 0]
    if steps.size:
        return float(np.median(steps))
    return 1.0 / FALLBACK_VIDEO_FPS


def _entry(item: FrameResult | tuple[float, Iterable[str | None]]) -> tuple[float, set[str]]:
    if isinstance(item, FrameResult):
        return item.time, {face.label for face in item.faces if face.label}
    seconds, labels = item
    return float(seconds), {label for label in labels if label}


def label_intervals(frames: Iterable[FrameResult | tuple[float, Iterable[str | None]]],
                    frame_period: float, max_gap_frames: int = 2) -> dict[str, list[list[float]]]:
    """When each label was on screen, as sorted [start, end] intervals in seconds.

    ``frames`` are the processed frames in order, either FrameResults or (time, labels) pairs;
    a label is present in a frame when some face in it carries that label. Consecutive
    frames with the label form one interval, and an absence of at most ``max_gap_frames``
    processed frames is bridged (a face missed for a moment, or briefly below threshold, does
    not split a scene in two). Raising it joins more, at the cost of merging a real exit and
    re-entry. Frames skipped before processing are neither presence nor absence. An interval
    ends one ``frame_period`` after its last frame, the time that frame stayed on screen.
    """
    if frame_period <= 0:
        raise ValueError(f"frame_period must be positive, got {frame_period}")
    if max_gap_frames < 0:
        raise ValueError(f"max_gap_frames must be 0 or more, got {max_gap_frames}")

    # Per label: [start, time of last present frame, position of last present frame].
    open_runs: dict[str, list[Any]] = {}
    intervals: dict[str, list[list[float]]] = {}
    for position, item in enumerate(frames):
        seconds, labels = _entry(item)
        for label in labels:
            run = open_runs.get(label)
            if run is not None and position - run[2] - 1 <= max_gap_frames:
                run[1], run[2] = seconds, position
                continue
            if run is not None:
                intervals.setdefault(label, []).append([run[0], run[1] + frame_period])
            open_runs[label] = [seconds, seconds, position]
    for label, run in open_runs.items():
        intervals.setdefault(label, []).append([run[0], run[1] + frame_period])

    return {label: [[round(start, 3), round(end, 3)] for start, end in runs]
            for label, runs in sorted(intervals.items())}


class AnalysisWriter:
    """Writes frames.jsonl, annotated.mp4 and summary.json into ``out_dir`` as frames arrive.

    >>> with AnalysisWriter("out", 25.0, (640, 480)) as writer:  # doctest: +SKIP
    ...     for result, annotated in processed:
    ...         writer.add(result, annotated)
    ...     summary = writer.finish(seconds=12.5)

    ``video_fps`` and ``frame_size`` describe the source: the frame rate sets the video's
    pace and the length of the last frame of a label interval (when unknown, the median
    frame interval is used); the size is recorded in the summary (the video takes the size
    of the first annotated frame). Leaving the block without finish() closes the files and
    writes no summary: frames.jsonl then holds everything processed so far.
    """

    def __init__(self, out_dir: str | Path, video_fps: float | None,
                 frame_size: tuple[int, int] | None, write_video: bool = True,
                 max_gap_frames: int = 2) -> None:
        self.out_dir = Path(out_dir)
        self.video_fps = float(video_fps) if video_fps and video_fps > 0 else None
        self.frame_size = tuple(frame_size) if frame_size else None
        self.write_video = write_video
        self.max_gap_frames = max_gap_frames
        self.frames_path = self.out_dir / FRAMES_FILE
        self.video_path = self.out_dir / VIDEO_FILE
        self.summary_path = self.out_dir / SUMMARY_FILE

        self._entries: list[tuple[float, set[str]]] = []
        self._last_index: int | None = None
        self._faces = 0
        self._video: cv2.VideoWriter | None = None
        self._video_size: tuple[int, int] | None = None
        self._video_frames = 0
        self._resize_warned = False
        self._finished = False

        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            # Line buffering would flush on every newline too; an explicit flush after each
            # frame states the intent and does not depend on how the file was opened.
            # A summary from an earlier run in this folder would describe other frames.
            self.summary_path.unlink(missing_ok=True)
            self._lines = self.frames_path.open("w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{self.out_dir}: cannot write results here ({exc.strerror}); "
                              "choose another output folder") from exc

    def __enter__(self) -> "AnalysisWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def frames(self) -> int:
        """Frames added so far."""
        return len(self._entries)

    def add(self, result: FrameResult, annotated: np.ndarray | None = None) -> None:
        """Record one processed frame and, when given, its annotated RGB image."""
        if self._lines.closed:
            raise RuntimeError("add() after the writer was finished or closed")
        if self._last_index is not None and result.index <= self._last_index:
            raise ValueError(f"frames must be added in order: frame {result.index} came after "
                             f"frame {self._last_index}")
        self._last_index = result.index

        line = json.dumps(result.to_json(), separators=(",", ":"))
        self._lines.write(line + "\n")
        # Flushed to the operating system, which keeps it if this process dies; an fsync per
        # frame would also survive a power cut but costs far more than a frame's processing.
        self._lines.flush()
        self._entries.append(_entry(result))
        self._faces += len(result.faces)

        if self.write_video and annotated is not None:
            self._write_frame(annotated)

    def _open_video(self, width: int, height: int) -> None:
        fps = self.video_fps
        if fps is None:
            # The video must be opened on its first frame, before any frame interval is seen.
            fps = FALLBACK_VIDEO_FPS
            log.info("source frame rate unknown; annotated video plays at %.0f fps", fps)
        # Limitation: MP4 finds its frames through an index written on close, so a video cut
        # short by a crash does not play; frames.jsonl keeps the results in that case.
        video = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                (width, height))
        if not video.isOpened():
            video.release()
            raise OutputError(f"{self.video_path}: cannot write an MP4 video (no mp4v encoder "
                              "in this OpenCV build, or the folder is not writable); run "
                              "without the annotated video or use another output folder")
        self._video, self._video_size = video, (width, height)

    def _write_frame(self, annotated: np.ndarray) -> None:
        if annotated.ndim != 3 or annotated.shape[2] != 3:
            raise ValueError(f"annotated frame must be RGB (h, w, 3), got {annotated.shape}")
        height, width = annotated.shape[:2]
        if self._video is None:
            self._open_video(width, height)
        assert self._video is not None and self._video_size is not None
        if (width, height) != self._video_size:
            # A source whose frame size changes (a folder of mixed images) still gives one
            # playable video; the first frame decides the size.
            if not self._resize_warned:
                log.warning("annotated frames change size from %dx%d to %dx%d; resizing",
                            *self._video_size, width, height)
                self._resize_warned = True
            annotated = cv2.resize(annotated, self._video_size, interpolation=cv2.INTER_AREA)
        self._video.write(cv2.cvtColor(np.ascontiguousarray(annotated, dtype=np.uint8),
                                       cv2.COLOR_RGB2BGR))
        self._video_frames += 1

    def summary(self, seconds: float, extra: dict | None = None) -> dict:
        """The summary of the frames added so far, as finish() would write it."""
        times = [t for t, _ in self._entries]
        period = frame_period(times, self.video_fps)
        summary: dict[str, Any] = {
            "frames": len(self._entries),
            "seconds": round(float(seconds), 3),
            "fps": round(len(self._entries) / seconds, 2) if seconds > 0 else None,
            "video_fps": self.video_fps,
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "faces": self._faces,
            "first_time": round(times[0], 3) if times else None,
            "last_time": round(times[-1], 3) if times else None,
            "labels": label_intervals(self._entries, period, self.max_gap_frames),
            "files": {
                "frames": FRAMES_FILE,
                "video": VIDEO_FILE if self._video_frames else None,
            },
        }
        summary.update(extra or {})
        return summary

    def finish(self, seconds: float, extra: dict | None = None) -> dict:
        """Close the files and write summary.json; returns the summary.

        ``seconds`` is the wall time the analysis took; ``extra`` entries are added to the
        summary (and replace standard ones of the same name).
        """
        if self._finished:
            raise RuntimeError("finish() called twice")
        summary = self.summary(seconds, extra)
        try:
            text = json.dumps(summary, indent=2) + "\n"
        except TypeError as exc:
            raise ValueError(f"summary extra entries must be JSON values: {exc}") from exc
        self.close()
        _write_text_atomic(self.summary_path, text, "the summary")
        self._finished = True
        log.info("wrote %s (%d frames)", self.out_dir, len(self._entries))
        return summary

    def close(self) -> None:
        """Close frames.jsonl and the video without writing a summary."""
        if not self._lines.closed:
            self._lines.close()
        if self._video is not None:
            self._video.release()
            self._video = None


def write_json_atomic(path: str | Path, data: dict) -> None:
    """Write JSON beside ``path`` and rename it over: readers never see a partial file."""
    _write_text_atomic(Path(path), json.dumps(data, indent=2) + "\n", "it")


def _write_text_atomic(path: Path, text: str, what: str) -> None:
    # Written beside the target and renamed over it: a reader sees the old file or the new
    # one, never a partial file, even if this process dies while writing.
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write {what} ({exc.strerror}); check the free space "
                          f"and permissions") from exc
