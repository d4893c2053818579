"""Writing a trained encoder out as shipped weights: Keras model, TFLite model, manifest."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ..report import write_json_atomic

log = logging.getLogger(__name__)

KERAS_FILE = "encoder.keras"
TFLITE_FILE = "encoder.tflite"
MANIFEST_FILE = "manifest.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def to_tflite(encoder, float16: bool = False) -> bytes:
    """The encoder as a TFLite flatbuffer with a resizable batch dimension; with ``float16``
    its weights are stored in half precision (half the file) and computed in float32."""
    import contextlib
    import io

    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(encoder)
    if float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    # The converter prints the whole saved-model signature to stdout; keep the console clean.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def export_weights(encoder, out_dir: str | Path, manifest: dict, float16: bool = False) -> Path:
    """Write encoder.keras, encoder.tflite and manifest.json (with file digests) to out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras_path, tflite_path = out / KERAS_FILE, out / TFLITE_FILE

    tmp = out / f".tmp-{KERAS_FILE}"
    encoder.save(tmp)
    tmp.replace(keras_path)
    tmp = out / f".tmp-{TFLITE_FILE}"
    tmp.write_bytes(to_tflite(encoder, float16))
    tmp.replace(tflite_path)

    manifest = dict(manifest)
    manifest["files"] = {
        KERAS_FILE: {"sha256": sha256(keras_path), "bytes": keras_path.stat().st_size},
        TFLITE_FILE: {"sha256": sha256(tflite_path), "bytes": tflite_path.stat().st_size},
    }
    write_json_atomic(out / MANIFEST_FILE, manifest)
    log.info("weights written to %s", out)
    return out
