"""Options objects for every stage, with defaults, loadable from ``configs/*.yaml``.

Each field states its unit and what raising or lowering it costs. A YAML file holds one mapping
per section (``detect``, ``align``, ``embed``, ``match``, ``templates``, ``capture``,
``track``); keys it
leaves out keep their defaults, and an unknown key is an error rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass
class DetectOptions:
    model: str = "short"
    """BlazeFace model: "short" for faces within about 2 m of the camera (webcams, close
    shots), "full" for smaller, more distant faces (slower, about 2x)."""
    min_confidence: float = 0.5
    """Detector score below which a box is dropped. Raising it removes false boxes but misses
    faces in profile or poor light."""
    min_face_px: int = 20
    """Smallest face side, in pixels of the original frame, that is kept. Smaller faces carry
    too little detail for a reliable embedding."""
    upscale_below_px: int = 320
    """Frames whose shorter side is below this many pixels are enlarged before detection, so
    small faces in low-resolution footage reach the detector's working size."""


@dataclass
class AlignOptions:
    size: int = 112
    """Side of the square aligned crop, in pixels; the encoder's manifest replaces it with the
    input size the encoder was trained at (and names the crop layout)."""


@dataclass
class EmbedOptions:
    weights: str = ""
    """Folder holding manifest.json and the encoder files. Empty means the shipped weights."""
    device: str = "auto"
    """"cpu", "gpu" or "auto" (the GPU when TensorFlow sees one). On CPU the TFLite encoder
    is used: it starts faster and runs a single face in a fraction of the Keras model's time."""
    threads: int = 2
    """CPU threads for the TFLite encoder."""


@dataclass
class MatchOptions:
    threshold: str = "best"
    """A threshold name from the weights' manifest ("best" for best accuracy, "strict" for a
    low false-accept rate, as at a door) or a number: the similarity above which two faces
    are the same person."""


@dataclass
class TemplateOptions:
    policy: str = "confident"
    """"none" keeps only the enrolled embeddings; "confident" also learns exemplars from
    frames matched well above the threshold."""
    enrol_mirrored: bool = True
    """Also enrol the mirror image of each enrolment face: one photo then stands for both
    sides of the face, which helps when the head turns the other way."""
    learn_margin: float = 0.15
    """How far above the threshold, in similarity, a face must score before it may teach the
    templates. Lower learns new looks sooner but lets borderline faces in."""
    learn_above: str = "strict"
    """A face teaches only if it matches the enrolled photos alone at least this well: a
    threshold name from the weights' manifest or a number. The strict (door) threshold means
    only faces that are certainly the enrolled person add looks; a lookalike who passes the
    tracking threshold cannot."""
    learned_reach: float = 0.15
    """How far below the threshold, in similarity to the enrolled photos, a face may still be
    named through a learned exemplar. Higher recognises looks further from the enrolment
    (profile, new glasses); it also lets people that much more like the target be named, and
    no chain of learned exemplars can reach beyond it."""
    max_exemplars: int = 16
    """Learned exemplars kept per target. Oldest go first; enrolled embeddings never go."""
    min_novelty: float = 0.05
    """A candidate whose similarity to an existing template is above 1 - min_novelty is a
    near duplicate and is not stored."""
    min_face_px: int = 24
    """Smallest face side, in pixels of the frame, that may teach the templates: small faces
    give blurry, unreliable embeddings. Low-resolution footage needs it low."""
    min_sharpness: float = 8.0
    """Smallest variance of the Laplacian of the grey aligned crop (motion blur, focus)."""
    max_yaw: float = 0.35
    """Largest sideways turn allowed for learning: the nose tip's offset from the midpoint of
    the eyes, as a fraction of the distance between the eyes (about 0.35 is 30 degrees)."""


@dataclass
class TrackOptions:
    enabled: bool = True
    """Link faces across frames and decide identity per track. Off, every frame is judged
    alone (a label can flicker, and nothing stops a lookalike for one frame)."""
    max_missed: int = 15
    """Frames a track survives without a matching face (a missed detection, a hand across the
    face). Longer bridges longer gaps; shorter frees a lost target's label sooner."""
    max_unvouched: int = 45
    """Frames a label rides on faces that cannot speak for identity (the back of a head, a far
    profile, a weak detection: see ``yaw_unreliable`` and ``confidence_unreliable``) before it
    is dropped; a clear face earns it back. Longer keeps a name on a person who turns away;
    shorter stops a name drifting onto whatever is detected where the target was."""
    min_iou: float = 0.05
    """Overlap with a track's predicted box below which a face is linked only if it is within
    ``max_shift``."""
    max_shift: float = 1.0
    """Largest centre movement between frames, in face widths, for a face to join a track."""
    min_link_similarity: float = 0.3
    """Appearance similarity to a track below which a face never joins it, wherever it is: an
    impostor stepping into the target's place starts a new track. Higher resists take-overs;
    too high splits a track when the face turns quickly."""
    appearance_weight: float = 0.6
    """Share of appearance (against position) in the link score between a face and a track."""
    appearance_memory: float = 0.8
    """Weight of a track's past appearance when a new face joins it (0 = only the newest)."""
    evidence_decay: float = 0.5
    """Weight of a track's past evidence for a target against the newest score. Higher is
    steadier but slower to give and to take a label."""
    hysteresis: float = 0.1
    """A labelled track keeps its label until its evidence falls this far below the threshold,
    so a single poor frame does not make the name flicker."""
    confirm_frames: int = 2
    """Consecutive frames above the threshold a new track needs before it is labelled..."""
    instant_margin: float = 0.08
    """...unless its evidence is already this far above the threshold."""
    yaw_reliable: float = 0.35
    """Sideways turn (nose offset from the eyes' midpoint, in eye distances) up to which a face
    fully counts as evidence of who the track is. Beyond it a face counts less and less..."""
    yaw_unreliable: float = 0.9
    """...and from this turn on not at all: a profile or the back of a head says little about
    identity, so it neither builds nor erodes a track's evidence, and it may join a track on
    position alone."""
    confidence_unreliable: float = 0.65
    """Detector confidence at or below which a face counts nothing as evidence (nor against
    it): weak detections are often a head seen from behind or a face half out of view..."""
    confidence_reliable: float = 0.9
    """...and from which it fully counts."""
    hindsight_frames: int = 60
    """For recorded video (`analyze`, `evaluate-track`): frames held back so that a track
    labelled later also names its earlier frames. 0 turns it off. Costs memory for that many
    frames and delays the output by as many."""
    hindsight_margin: float = 0.25
    """How far below the threshold a held-back face of a labelled track may score and still be
    named in hindsight."""
    cut_correlation: float = 0.8
    """Colour-histogram correlation between consecutive frames below which a shot cut is
    declared; every track ends there, and labels must be earned again."""


@dataclass
class CaptureOptions:
    folder_fps: float = 30.0
    """Frame rate assumed for a folder of images, in frames per second; sets each frame's time."""
    realtime: bool = True
    """For `watch` on a file: drop frames when processing falls behind, as a live camera would."""
    timeout: float = 5.0
    """Seconds to wait for a camera or stream to give a frame before giving up. Raise it for
    slow network streams; lowering it makes a dead source fail sooner."""


@dataclass
class Config:
    detect: DetectOptions = field(default_factory=DetectOptions)
    align: AlignOptions = field(default_factory=AlignOptions)
    embed: EmbedOptions = field(default_factory=EmbedOptions)
    match: MatchOptions = field(default_factory=MatchOptions)
    templates: TemplateOptions = field(default_factory=TemplateOptions)
    capture: CaptureOptions = field(default_factory=CaptureOptions)
    track: TrackOptions = field(default_factory=TrackOptions)


def _apply(section: Any, values: dict[str, Any], where: str) -> None:
    known = {f.name: f for f in dataclasses.fields(section)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown option {key!r}; known: {', '.join(known)}")
        current = getattr(section, key)
        if isinstance(current, bool) and not isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: expected true or false, got {value!r}")
        if isinstance(current, (int, float)) and not isinstance(current, bool):
            if isinstance(value, str):
                # YAML reads 1e9 (no dot) as text; take what reads as a number.
                try:
                    value = float(value)
                except ValueError:
                    pass
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"{where}.{key}: expected a finite number, got {value!r}")
            if isinstance(current, int) and value != int(value):
                raise ConfigError(f"{where}.{key}: expected a whole number, got {value!r}")
            value = type(current)(value)
        if isinstance(current, str):
            # A number is welcome as text (a threshold); a list, mapping or empty value is not.
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: expected text, got {value!r}")
            value = str(value)
        setattr(section, key, value)


def load_config(path: str | Path | None = None) -> Config:
    """Defaults, overridden by the YAML file at ``path`` when one is given."""
    config = Config()
    if path is None:
        return config

    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file in UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections")

    sections = {f.name for f in dataclasses.fields(config)}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"{path}: unknown section {name!r}; known: {', '.join(sections)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: section {name!r} must be a mapping")
        _apply(getattr(config, name), values, f"{path}:{name}")
    validate(config, str(path))
    return config


# (section, option, lowest, highest) for options whose useful range is narrower than a number's.
RANGES = [
    ("detect", "min_confidence", 0.0, 1.0), ("detect", "min_face_px", 1, 4096),
    ("detect", "upscale_below_px", 0, 4096), ("align", "size", 16, 1024),
    ("embed", "threads", 1, 256), ("templates", "max_exemplars", 0, 10_000),
    ("templates", "min_novelty", 0.0, 2.0), ("track", "max_missed", 0, 100_000),
    ("track", "max_unvouched", 0, 100_000),
    ("track", "min_iou", 0.0, 1.0), ("track", "appearance_weight", 0.0, 1.0),
    ("track", "appearance_memory", 0.0, 1.0), ("track", "evidence_decay", 0.0, 1.0),
    ("track", "confirm_frames", 0, 100_000), ("track", "hindsight_frames", 0, 100_000),
    ("capture", "folder_fps", 0.01, 1000.0), ("capture", "timeout", 0.0, 3600.0),
]


def validate(config: Config, where: str = "config") -> None:
    """Refuse values outside an option's useful range, naming the option."""
    for section, option, low, high in RANGES:
        value = getattr(getattr(config, section), option)
        if not low <= value <= high:
            raise ConfigError(f"{where}: {section}.{option} must be between {low} and {high}, "
                              f"got {value}")
