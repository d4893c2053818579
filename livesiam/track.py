"""Following faces across frames, and deciding who each track is.

Faces are linked to tracks by position *and* appearance: a face is never joined to a track it
does not resemble, so an impostor who steps into the target's place starts a track of his own
instead of inheriting the target's. Identity belongs to the track. Each track accumulates
evidence per target (an exponential average of its faces' scores); a label is given when the
evidence is high enough for long enough, and taken away with hysteresis, so one bad frame does
not make a name flicker. A track that is lost and found again, or that crosses a shot cut, is a
new track and must earn its label anew.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from .config import TrackOptions
from .detect import yaw
from .embed import calibrate

log = logging.getLogger(__name__)


def iou(a: tuple, b: tuple) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def reliability(keypoints: np.ndarray, confidence: float, options: TrackOptions,
                min_confidence: float | None = None) -> float:
    """How much a face says about identity, from 0 (nothing) to 1 (a clear frontal face)."""
    turn = abs(yaw(keypoints))
    span = max(options.yaw_unreliable - options.yaw_reliable, 1e-6)
    pose = float(np.clip(1.0 - (turn - options.yaw_reliable) / span, 0.0, 1.0))
    floor = options.confidence_unreliable if min_confidence is None else \
        max(options.confidence_unreliable, min_confidence)
    span = max(options.confidence_reliable - floor, 1e-6)
    detection = float(np.clip((confidence - floor) / span, 0.0, 1.0))
    return pose * detection


@dataclass
class Track:
    id: int
    box: tuple[float, float, float, float]
    appearance: np.ndarray
    evidence: np.ndarray
    streak: np.ndarray
    first_frame: int
    last_frame: int
    velocity: tuple[float, float] = (0.0, 0.0)
    last_reliable: int | None = None
    """Last frame whose face could speak for identity (reliability at least 0.5)."""
    missed: int = 0
    hits: int = 1
    label: int | None = None
    labelled_since: int | None = None

    def predicted_box(self) -> tuple[float, float, float, float]:
        x, y, w, h = self.box
        steps = self.missed + 1
        return (x + self.velocity[0] * steps, y + self.velocity[1] * steps, w, h)


@dataclass
class TrackedFace:
    """A face of the current frame with its track and the identity decided for that track."""

    face_index: int
    track: int
    label: int | None
    evidence: float


@dataclass
class Tracker:
    """Links faces frame to frame and keeps identity per track.

    Call ``update`` once per frame with the frame's faces, their embeddings and their
    (faces, targets) score matrix.
    """

    options: TrackOptions
    threshold: float
    n_targets: int
    names: list[str] = field(default_factory=list)
    """Target names, for the events; indices are used where a name is missing."""
    score_offset: float = 0.0
    """The encoder's score offset (``embed.calibrate``): appearance is compared in scores."""
    tracks: list[Track] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    """What happened to identities, in order: "labelled", "label_dropped", "label_moved",
    "lost" (a labelled track unseen for max_missed frames; "last_seen" says when it was last
    seen) and "ended_at_cut". Frames are those of the live decision: for recorded video the
    labels in the output may start earlier, filled in with hindsight."""
    _next_id: int = 1
    _last_hist: np.ndarray | None = None

    # --- shot cuts ----------------------------------------------------------------------------

    def _is_cut(self, image: np.ndarray) -> bool:
        small = cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
        hist = cv2.normalize(hist, None).flatten()
        previous, self._last_hist = self._last_hist, hist
        if previous is None:
            return False
        return cv2.compareHist(previous, hist, cv2.HISTCMP_CORREL) < self.options.cut_correlation

    # --- association --------------------------------------------------------------------------

    def _link_scores(self, boxes: list[tuple], embeddings: np.ndarray,
                     weights: np.ndarray) -> np.ndarray:
        """(tracks, faces) link quality in [0, 1], or -1 where linking is not allowed. The
        appearance gate is scaled by each face's reliability: a profile may join a track on
        position alone, a clear frontal face must also look like it."""
        o = self.options
        out = np.full((len(self.tracks), len(boxes)), -1.0)
        for t, track in enumerate(self.tracks):
            predicted = track.predicted_box()
            px, py = predicted[0] + predicted[2] / 2, predicted[1] + predicted[3] / 2
            size = max(predicted[2], predicted[3])
            for f, box in enumerate(boxes):
                overlap = iou(predicted, box)
                shift = np.hypot(box[0] + box[2] / 2 - px, box[1] + box[3] / 2 - py) / size
                if overlap < o.min_iou and shift > o.max_shift:
                    continue
                similarity = float(calibrate(float(np.dot(track.appearance, embeddings[f])),
                                             self.score_offset))
                if weights[f] > 0 and similarity < o.min_link_similarity * weights[f]:
                    continue
                similarity = max(similarity, 0.0)
                closeness = max(overlap, 1.0 - shift / max(o.max_shift, 1e-6))
                out[t, f] = o.appearance_weight * similarity + \
                    (1 - o.appearance_weight) * closeness
        return out

    def _associate(self, links: np.ndarray) -> list[tuple[int, int]]:
        if links.size == 0:
            return []
        from scipy.optimize import linear_sum_assignment

        cost = np.where(links < 0, 1e6, -links)
        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols) if links[r, c] >= 0]

    # --- identity -----------------------------------------------------------------------------

    def _vouched(self, track: Track, frame: int) -> bool:
        """Whether a face that can speak for identity joined the track in the last
        ``max_unvouched`` frames. Faces that cannot (the back of a head, a far profile) neither
        build nor erode evidence, so without this bound a label would ride on them forever."""
        return track.last_reliable is not None and \
            frame - track.last_reliable <= self.options.max_unvouched

    def _update_labels(self, frame: int) -> None:
        o = self.options
        keep_level = self.threshold - o.hysteresis
        for track in self.tracks:
            if track.label is not None and (track.evidence[track.label] < keep_level
                                            or not self._vouched(track, frame)):
                self._event("label_dropped", frame, track, track.label)
                track.label = None
                track.labelled_since = None

        for target in range(self.n_targets):
            holder = next((t for t in self.tracks if t.label == target), None)
            if holder is not None and holder.missed == 0:
                continue
            candidates = [t for t in self.tracks
                          if t.label is None and t.missed == 0
                          and self._qualifies(t, target, frame)]
            if not candidates:
                continue
            # A holder that has gone unseen gives the name up to a visible track that has
            # earned it on its own evidence: when a quick turn or blur splits a track, the
            # person's new track must not wait for the old one to expire.
            if holder is not None:
                holder.label = None
                holder.labelled_since = None
                self._event("label_moved", frame, holder, target)
            best = max(candidates, key=lambda t: t.evidence[target])
            best.label = target
            best.labelled_since = frame
            self._event("labelled", frame, best, target)

    def _qualifies(self, track: Track, target: int, frame: int) -> bool:
        o = self.options
        if track.evidence[target] < self.threshold or not self._vouched(track, frame):
            return False
        others = np.delete(track.evidence, target)
        if len(others) and others.max() > track.evidence[target]:
            return False
        # A new track is labelled at once only when its evidence is clearly above the
        # threshold; otherwise it must stay above for a few frames first.
        if track.evidence[target] >= self.threshold + o.instant_margin:
            return True
        return int(track.streak[target]) >= o.confirm_frames

    def _event(self, kind: str, frame: int, track: Track, target: int | None) -> None:
        name = target
        if target is not None and target < len(self.names):
            name = self.names[target]
        event = {"event": kind, "frame": frame, "track": track.id, "target": name,
                 "last_seen": track.last_frame}
        self.events.append(event)
        log.debug("track event: %s", event)

    # --- per frame ----------------------------------------------------------------------------

    def update(self, frame: int, image: np.ndarray, boxes: list[tuple], embeddings: np.ndarray,
               scores: np.ndarray, weights: np.ndarray | None = None) -> list[TrackedFace]:
        """Link this frame's faces to tracks and decide identities. ``weights`` is each face's
        reliability (see ``reliability``); unreliable faces move a track's evidence little."""
        o = self.options
        weights = np.ones(len(boxes)) if weights is None else np.asarray(weights, dtype=float)
        if self._is_cut(image) and self.tracks:
            for track in self.tracks:
                self._event("ended_at_cut", frame, track, track.label)
            self.tracks = []

        links = self._link_scores(boxes, embeddings, weights)
        pairs = self._associate(links)
        matched_tracks = {t for t, _ in pairs}
        decay = o.evidence_decay
        assigned: dict[int, Track] = {}

        for t, f in pairs:
            track = self.tracks[t]
            assigned[f] = track
            box = tuple(float(v) for v in boxes[f])
            steps = track.missed + 1
            track.velocity = ((box[0] - track.box[0]) / steps, (box[1] - track.box[1]) / steps)
            track.box = box
            mixed = o.appearance_memory * track.appearance + \
                (1 - o.appearance_memory) * embeddings[f]
            track.appearance = mixed / max(np.linalg.norm(mixed), 1e-12)
            # Evidence moves towards this frame's scores in proportion to how much the face
            # can say: a profile or a weak detection leaves it where it was.
            step = (1 - decay) * weights[f]
            track.evidence = track.evidence + step * (scores[f] - track.evidence)
            if weights[f] >= 0.5:
                above = scores[f] >= self.threshold
                track.streak = np.where(above, track.streak + 1, 0)
                track.last_reliable = frame
            track.missed = 0
            track.hits += 1
            track.last_frame = frame

        for t, track in enumerate(self.tracks):
            if t not in matched_tracks:
                track.missed += 1

        for f in range(len(boxes)):
            if f in assigned:
                continue
            row = scores[f] if scores.shape[1] else np.zeros(0)
            # A new track starts from what its first face can vouch for.
            evidence = row.astype(np.float64) * weights[f]
            streak = ((row >= self.threshold) & (weights[f] >= 0.5)).astype(int)
            track = Track(self._next_id, tuple(float(v) for v in boxes[f]),
                          embeddings[f].copy(), evidence, streak, frame, frame,
                          last_reliable=frame if weights[f] >= 0.5 else None)
            self._next_id += 1
            self.tracks.append(track)
            assigned[f] = track

        for track in [t for t in self.tracks if t.missed > o.max_missed]:
            if track.label is not None:
                self._event("lost", frame, track, track.label)
        self.tracks = [t for t in self.tracks if t.missed <= o.max_missed]

        self._update_labels(frame)
        out = []
        for f, track in sorted(assigned.items()):
            level = float(track.evidence[track.label]) if track.label is not None else 0.0
            out.append(TrackedFace(f, track.id, track.label, level))
        return out


class Hindsight:
    """Fixed-lag smoothing of labels for recorded video.

    Live, a track is labelled only once its evidence clears the threshold, so the first frames
    of a hard shot (a head turned down, a mouth wide open) go unnamed. Recorded footage can wait:
    frames are held back for ``lag`` frames, and when a track is labelled, its held-back faces
    that are still reasonably like the target (score at least threshold - ``margin``) get the
    label too. Faces far below that, or frames where someone else already carries the name,
    stop the walk back, so a track that was someone else before it became the target keeps
    its earlier frames unnamed.
    """

    def __init__(self, lag: int, threshold: float, margin: float) -> None:
        from collections import deque

        self.lag = lag
        self.floor = threshold - margin
        self._held: deque = deque()

    def push(self, result, payload=None) -> list:
        """Add a frame's result (and anything to keep with it); returns the (result, payload)
        pairs that leave the buffer, oldest first."""
        self._backfill(result)
        self._held.append((result, payload))
        out = []
        while len(self._held) > self.lag:
            out.append(self._held.popleft())
        return out

    def flush(self) -> list:
        out = list(self._held)
        self._held.clear()
        return out

    def _backfill(self, result) -> None:
        for face in result.faces:
            if face.label is None or face.track is None:
                continue
            reference = face.box
            for earlier, _ in reversed(self._held):
                if any(f.label == face.label for f in earlier.faces):
                    break
                same_track = [f for f in earlier.faces if f.track == face.track]
                if same_track:
                    candidate = same_track[0]
                else:
                    # A blurred frame can split a track for a few frames; a face in the
                    # track's place during such a gap is the same person if it still
                    # scores like them.
                    nearby = [f for f in earlier.faces
                              if f.label is None and iou(f.box, reference) >= 0.5]
                    if not nearby:
                        continue
                    candidate = max(nearby, key=lambda f: iou(f.box, reference))
                if candidate.best != face.label or candidate.score < self.floor:
                    break
                candidate.label = face.label
                reference = candidate.box
