"""The encoder at run time: aligned crops in, unit-length embeddings out.

On CPU the TFLite export runs (fast start, fast single faces); on a GPU the Keras model runs.
Every face of a frame goes through in one batched call.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import EmbedOptions
from .errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "default"


def calibrate(cosine, offset: float):
    """A match score from the cosine similarity of two embeddings: ``(cos - offset) /
    (1 - offset)``.

    An encoder whose embeddings all lie in one narrow cone (strangers at cosine 0.8, say)
    states that cosine as ``offset`` in its manifest; its scores then put strangers near 0 and
    identical faces at 1, like any other encoder's, so that the margins of the tracker and
    of template updating mean the same whatever the weights. The order of scores, and so
    every accuracy figure, is that of the cosines.
    """
    if offset == 0.0:
        return cosine
    return (cosine - offset) / (1.0 - offset)


@dataclass
class Manifest:
    """What the weights folder says about itself (manifest.json)."""

    path: Path
    data: dict

    @property
    def input_size(self) -> int:
        return int(self.data["input_size"])

    @property
    def embedding_dim(self) -> int:
        return int(self.data["embedding_dim"])

    @property
    def layout(self) -> str:
        """Where the encoder expects the eyes, nose and mouth (see ``align.LAYOUTS``)."""
        return str(self.data.get("layout", "arcface"))

    @property
    def score_offset(self) -> float:
        """Cosine similarity that scores 0 (see ``calibrate``); 0 for plain cosine scores."""
        return float(self.data.get("score_offset", 0.0))

    @property
    def lowest_score(self) -> float:
        return float(calibrate(-1.0, self.score_offset))

    @property
    def thresholds(self) -> dict[str, float]:
        return {k: float(v["value"]) for k, v in self.data.get("thresholds", {}).items()}

    def threshold(self, spec: str | float | None = None) -> float:
        """A threshold by name from the manifest ("best", "strict") or as a number."""
        if spec is None or spec == "":
            spec = self.data.get("default_threshold", "best")
        try:
            value = float(spec)
        except ValueError:
            value = None
        if value is not None:
            # A threshold outside the range of scores would accept or refuse everyone.
            low = self.lowest_score
            if not low <= value <= 1.0:
                raise ModelError(f"threshold {value} is outside {low:g}..1, the range of a "
                                 f"score")
            return value
        if spec not in self.thresholds:
            names = ", ".join(self.thresholds) or "none"
            raise ModelError(f"threshold {spec!r} is neither a number nor one of the manifest's "
                             f"named thresholds ({names})")
        return self.thresholds[spec]


def weights_dir(path: str | Path | None = None) -> Path:
    """The weights folder: ``path``, else $LIVESIAM_WEIGHTS, else the shipped default."""
    if path:
        return Path(path)
    env = os.environ.get("LIVESIAM_WEIGHTS")
    return Path(env) if env else DEFAULT_WEIGHTS


def load_manifest(path: str | Path | None = None) -> Manifest:
    folder = weights_dir(path)
    file = folder / "manifest.json"
    if not file.is_file():
        raise ModelError(f"{folder}: no manifest.json; point --weights at a folder of trained "
                         f"weights")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{file}: unreadable manifest ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{file}: a manifest is a JSON object")
    _check_manifest(file, data)
    return Manifest(folder, data)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_manifest(file: Path, data: dict) -> None:
    """Refuse a manifest that would make the encoder misread faces or misjudge scores."""
    from .align import LAYOUTS

    for key in ("input_size", "embedding_dim", "files"):
        if key not in data:
            raise ModelError(f"{file}: manifest lacks {key!r}")
    for key in ("input_size", "embedding_dim"):
        if not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 1:
            raise ModelError(f"{file}: {key} must be a positive whole number, got "
                             f"{data[key]!r}")
    layout = data.get("layout", "arcface")
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ModelError(f"{file}: unknown face layout {layout!r}")
    offset = data.get("score_offset", 0.0)
    if not _is_number(offset) or not 0.0 <= offset < 1.0:
        raise ModelError(f"{file}: score_offset must be a number in [0, 1), got {offset!r}")

    # Weights made by `livesiam train` record their recipe: a layout or a score offset that
    # went missing since would silently misalign faces or let strangers match.
    recipe = data.get("recipe")
    if isinstance(recipe, dict):
        if recipe.get("layout", "arcface") != layout:
            raise ModelError(f"{file}: layout {layout!r} disagrees with the recipe's "
                             f"{recipe.get('layout', 'arcface')!r}")
        if recipe.get("calibrate") and "score_offset" not in data:
            raise ModelError(f"{file}: the recipe calibrated scores but the manifest has no "
                             f"score_offset")

    thresholds = data.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise ModelError(f"{file}: thresholds must map names to {{\"value\": number}}")
    low = float(calibrate(-1.0, float(offset)))
    for name, entry in thresholds.items():
        value = entry.get("value") if isinstance(entry, dict) else None
        if not _is_number(value) or not low <= value <= 1.0:
            raise ModelError(f"{file}: threshold {name!r} must be a number in {low:g}..1, "
                             f"got {value!r}")


def _gpu_available() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


class Embedder:
    """Turns batches of aligned RGB uint8 crops into L2-normalised float32 embeddings."""

    def __init__(self, options: EmbedOptions | None = None) -> None:
        self.options = options or EmbedOptions()
        self.manifest = load_manifest(self.options.weights or None)
        device = self.options.device
        if device not in ("auto", "cpu", "gpu"):
            raise ModelError(f"device must be auto, cpu or gpu, not {device!r}")
        if device == "gpu" and not _gpu_available():
            raise ModelError("--device gpu: TensorFlow sees no GPU on this machine")
        if device == "auto":
            device = "gpu" if _gpu_available() else "cpu"
        self.device = device
        self._interpreter = None
        self._model = None
        self._batch = 0
        if device == "cpu":
            self._load_tflite()
        else:
            self._load_keras()
        log.info("encoder %s on %s", self.manifest.data.get("architecture", "?"), device)

    @property
    def input_size(self) -> int:
        return self.manifest.input_size

    @property
    def layout(self) -> str:
        return self.manifest.layout

    @property
    def score_offset(self) -> float:
        return self.manifest.score_offset

    def score(self, a: np.ndarray, b: np.ndarray) -> float:
        """The match score of two embeddings."""
        return float(calibrate(float(np.dot(a, b)), self.score_offset))

    def _file(self, name: str) -> Path:
        path = self.manifest.path / name
        if not path.is_file():
            raise ModelError(f"{path}: missing; the weights folder is incomplete")
        return path

    def _load_tflite(self) -> None:
        import tensorflow as tf

        path = self._file("encoder.tflite")
        try:
            with warnings.catch_warnings():
                # tf.lite.Interpreter announces its own deprecation; it still works and avoids
                # a second runtime dependency.
                warnings.simplefilter("ignore")
                self._interpreter = tf.lite.Interpreter(model_path=str(path),
                                                        num_threads=self.options.threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: not a usable TFLite model ({str(exc).strip()})") from exc
        inputs, outputs = (self._interpreter.get_input_details(),
                           self._interpreter.get_output_details())
        self._check_shapes(path, [int(v) for v in inputs[0]["shape"][1:]],
                           [int(v) for v in outputs[0]["shape"][1:]])
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        self._resize(1)

    def _check_shapes(self, path: Path, image: list, embedding: list) -> None:
        """The model must read the crops and give the embeddings its manifest promises."""
        size, dim = self.input_size, self.manifest.embedding_dim
        if image != [size, size, 3]:
            raise ModelError(f"{path} reads images of {image}, but its manifest says "
                             f"input_size {size}")
        if embedding != [dim]:
            raise ModelError(f"{path} gives embeddings of {embedding}, but its manifest says "
                             f"embedding_dim {dim}")

    def _resize(self, batch: int) -> None:
        if batch == self._batch:
            return
        size = self.input_size
        self._interpreter.resize_tensor_input(self._input, [batch, size, size, 3], strict=False)
        self._interpreter.allocate_tensors()
        self._batch = batch

    def _load_keras(self) -> None:
        import keras

        from .training import losses, siamese  # noqa: F401  (registers custom layers)

        path = self._file("encoder.keras")
        try:
            self._model = keras.saving.load_model(path, compile=False)
        except (ValueError, OSError, TypeError) as exc:
            raise ModelError(f"{path}: not a usable Keras model ({exc})") from exc
        self._check_shapes(path, [int(v) if v else v for v in self._model.input_shape[1:]],
                           [int(v) for v in self._model.output_shape[1:]])

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """(n, size, size, 3) uint8 crops -> (n, dim) unit-length embeddings."""
        crops = np.asarray(crops)
        size = self.input_size
        if crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
            raise ValueError(f"expected crops of shape (n, {size}, {size}, 3), got {crops.shape}")
        n = len(crops)
        if n == 0:
            return np.zeros((0, self.manifest.embedding_dim), dtype=np.float32)
        x = crops.astype(np.float32)
        if self._interpreter is not None:
            self._resize(n)
            self._interpreter.set_tensor(self._input, x)
            self._interpreter.invoke()
            out = self._interpreter.get_tensor(self._output).copy()
        else:
            out = np.asarray(self._model(x, training=False))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_many(self, crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Embed a large array of crops in batches (evaluation, enrolment of many photos)."""
        parts = [self.embed(crops[i:i + batch_size]) for i in range(0, len(crops), batch_size)]
        if not parts:
            return np.zeros((0, self.manifest.embedding_dim), dtype=np.float32)
        return np.concatenate(parts)
