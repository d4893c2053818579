"""The encoder at run time, on the shipped weights.

Only what holds for any trained encoder is asserted here: shapes, unit length, batching and
how bad weights folders fail. How well it tells people apart is measured by evaluation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import livesiam.embed as embed_module
from livesiam.config import EmbedOptions
from livesiam.embed import DEFAULT_WEIGHTS, Embedder, calibrate, load_manifest, weights_dir
from livesiam.errors import ModelError
from livesiam.images import load_image

SIZE = load_manifest().input_size


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(EmbedOptions(device="cpu"))


@pytest.fixture(scope="module")
def crops(shared_data: Path) -> np.ndarray:
    """Five real face crops of three people (Glint's 112x112 crops at the encoder's size)."""
    import cv2

    glint = shared_data / "faces" / "glint"
    paths = [path for name, count in (("Barack_Obama", 2), ("Tom_Hanks", 2), ("Keanu_Reeves", 1))
             for path in sorted((glint / name).glob("*.jpg"))[:count]]
    return np.stack([cv2.resize(load_image(path), (SIZE, SIZE)) for path in paths])


@pytest.fixture
def weights_copy(tmp_path: Path) -> Path:
    """A weights folder holding only a copy of the shipped manifest."""
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(DEFAULT_WEIGHTS / "manifest.json", folder / "manifest.json")
    return folder


def test_shipped_weights_take_aligned_crops_of_the_align_size(embedder: Embedder) -> None:
    assert embedder.device == "cpu"
    assert embedder.input_size == SIZE
    assert embedder.manifest.embedding_dim > 0


def test_each_crop_gives_one_unit_length_row(embedder: Embedder, crops: np.ndarray) -> None:
    embeddings = embedder.embed(crops)

    assert embeddings.shape == (5, embedder.manifest.embedding_dim)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert np.all(np.isfinite(embeddings))


def test_batch_gives_the_same_rows_as_one_crop_at_a_time(embedder: Embedder,
                                                         crops: np.ndarray) -> None:
    together = embedder.embed(crops)
    alone = np.concatenate([embedder.embed(crops[i:i + 1]) for i in range(len(crops))])

    np.testing.assert_allclose(together, alone, atol=1e-4)
    np.testing.assert_allclose(embedder.embed(crops[::-1]), together[::-1], atol=1e-4)


def test_embed_many_batches_large_arrays_without_changing_rows(embedder: Embedder,
                                                               crops: np.ndarray) -> None:
    np.testing.assert_allclose(embedder.embed_many(crops, batch_size=2),
                               embedder.embed(crops), atol=1e-4)
    assert embedder.embed_many(crops[:0]).shape == (0, embedder.manifest.embedding_dim)


def test_no_crops_give_no_rows(embedder: Embedder) -> None:
    empty = np.zeros((0, SIZE, SIZE, 3), np.uint8)

    assert embedder.embed(empty).shape == (0, embedder.manifest.embedding_dim)


@pytest.mark.parametrize("shape", [(SIZE, SIZE, 3), (1, 96, 96, 3), (1, SIZE, SIZE),
                                   (1, SIZE, SIZE, 4)])
def test_crops_of_the_wrong_shape_are_refused(embedder: Embedder, shape: tuple) -> None:
    with pytest.raises(ValueError, match=rf"expected crops of shape \(n, {SIZE}, {SIZE}, 3\)"):
        embedder.embed(np.zeros(shape, np.uint8))


def test_keras_model_used_on_gpus_agrees_with_the_cpu_encoder(
        embedder: Embedder, crops: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    # TensorFlow runs the Keras model on the CPU when no GPU is there; the answer is the same.
    monkeypatch.setattr(embed_module, "_gpu_available", lambda: True)
    keras_embedder = Embedder(EmbedOptions(device="gpu"))

    embeddings = keras_embedder.embed(crops)

    assert keras_embedder.device == "gpu"
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embeddings, embedder.embed(crops), atol=1e-3)


def test_gpu_asked_for_where_there_is_none_is_a_model_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed_module, "_gpu_available", lambda: False)

    with pytest.raises(ModelError, match="sees no GPU"):
        Embedder(EmbedOptions(device="gpu"))


def test_unknown_device_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="auto, cpu or gpu"):
        Embedder(EmbedOptions(device="tpu"))


def test_thresholds_by_name_by_number_and_by_default() -> None:
    manifest = load_manifest()
    named = {name: float(entry["value"]) for name, entry in manifest.data["thresholds"].items()}

    assert manifest.threshold("best") == named["best"]
    assert manifest.threshold("strict") == named["strict"]
    assert manifest.threshold(0.42) == 0.42
    assert manifest.threshold("0.42") == 0.42
    assert manifest.threshold(None) == named[manifest.data["default_threshold"]]
    assert manifest.threshold("") == manifest.threshold(None)


def test_unknown_threshold_name_is_a_model_error_listing_the_names() -> None:
    with pytest.raises(ModelError, match="'door'.*best.*strict"):
        load_manifest().threshold("door")


def test_folder_without_a_manifest_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no manifest.json"):
        Embedder(EmbedOptions(weights=str(tmp_path)))


def test_manifest_that_is_not_json_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{ half a manifest")

    with pytest.raises(ModelError, match="unreadable manifest"):
        load_manifest(tmp_path)


def test_manifest_without_the_input_size_is_a_model_error(weights_copy: Path) -> None:
    data = json.loads((weights_copy / "manifest.json").read_text())
    del data["input_size"]
    (weights_copy / "manifest.json").write_text(json.dumps(data))

    with pytest.raises(ModelError, match="lacks 'input_size'"):
        load_manifest(weights_copy)


def test_weights_folder_without_the_encoder_is_a_model_error(weights_copy: Path) -> None:
    with pytest.raises(ModelError, match="encoder.tflite: missing"):
        Embedder(EmbedOptions(weights=str(weights_copy), device="cpu"))


def test_weights_folder_comes_from_the_option_then_the_environment_then_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVESIAM_WEIGHTS", raising=False)
    assert weights_dir() == DEFAULT_WEIGHTS

    monkeypatch.setenv("LIVESIAM_WEIGHTS", str(tmp_path))
    assert weights_dir() == tmp_path
    assert weights_dir(tmp_path / "other") == tmp_path / "other"


@pytest.mark.parametrize("key, value, message", [
    ("layout", "mtcnn", "unknown face layout 'mtcnn'"),
    ("score_offset", 1.0, "score_offset must be a number in \\[0, 1\\)"),
    ("score_offset", "0.5", "score_offset must be a number"),
])
def test_manifest_with_a_bad_layout_or_score_offset_is_a_model_error(
        weights_copy: Path, key: str, value: object, message: str) -> None:
    data = json.loads((weights_copy / "manifest.json").read_text())
    data[key] = value
    (weights_copy / "manifest.json").write_text(json.dumps(data))

    with pytest.raises(ModelError, match=message):
        load_manifest(weights_copy)


def test_calibrated_scores_keep_the_order_of_cosines_and_put_identical_faces_at_1() -> None:
    cosines = np.array([-1.0, 0.2, 0.8, 0.9, 1.0])

    scores = calibrate(cosines, 0.8)

    np.testing.assert_allclose(scores, [-9.0, -3.0, 0.0, 0.5, 1.0])
    assert calibrate(0.3, 0.0) == 0.3


def test_thresholds_are_checked_against_the_range_of_calibrated_scores(
        weights_copy: Path) -> None:
    data = json.loads((weights_copy / "manifest.json").read_text())
    data["score_offset"] = 0.5
    (weights_copy / "manifest.json").write_text(json.dumps(data))
    manifest = load_manifest(weights_copy)

    assert manifest.lowest_score == -3.0
    assert manifest.threshold(-2.5) == -2.5
    with pytest.raises(ModelError, match="outside -3..1"):
        manifest.threshold(-3.5)
    with pytest.raises(ModelError, match="outside -3..1"):
        manifest.threshold(1.2)


@pytest.fixture
def full_weights_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(DEFAULT_WEIGHTS, folder)
    return folder


def edit_manifest(folder: Path, change) -> None:
    data = json.loads((folder / "manifest.json").read_text())
    change(data)
    (folder / "manifest.json").write_text(json.dumps(data))


@pytest.mark.parametrize("key, message", [
    ("input_size", "reads images of \\[150, 150, 3\\], but its manifest says input_size 112"),
    ("embedding_dim", "gives embeddings of \\[128\\], but its manifest says embedding_dim 112"),
])
def test_manifest_that_does_not_fit_the_model_is_a_model_error(
        full_weights_copy: Path, key: str, message: str) -> None:
    if load_manifest().input_size != 150:
        pytest.skip("written for the shipped 150x150 encoder")
    edit_manifest(full_weights_copy, lambda d: d.update({key: 112}))

    with pytest.raises(ModelError, match=message):
        Embedder(EmbedOptions(weights=str(full_weights_copy), device="cpu"))


def test_corrupt_tflite_file_is_a_model_error(full_weights_copy: Path) -> None:
    (full_weights_copy / "encoder.tflite").write_bytes(b"half a model")

    with pytest.raises(ModelError, match="encoder.tflite: not a usable TFLite model"):
        Embedder(EmbedOptions(weights=str(full_weights_copy), device="cpu"))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("layout"), "layout 'arcface' disagrees with the recipe's"),
    (lambda d: d.pop("score_offset"), "recipe calibrated scores but the manifest has no"),
    (lambda d: d["thresholds"]["strict"].update(value=-30.0), "threshold 'strict' must be"),
    (lambda d: d["thresholds"]["best"].update(value=float("nan")), "threshold 'best' must be"),
    (lambda d: d.update(thresholds=["best"]), "thresholds must map names"),
    (lambda d: d.update(input_size="150"), "input_size must be a positive whole number"),
    (lambda d: d.update(layout=["arcface"]), "unknown face layout"),
])
def test_manifest_whose_scores_or_layout_cannot_be_trusted_is_a_model_error(
        weights_copy: Path, change, message: str) -> None:
    data = json.loads((weights_copy / "manifest.json").read_text())
    if "recipe" not in data or not data["recipe"].get("calibrate"):
        pytest.skip("written for weights trained with calibrated scores")
    edit_manifest(weights_copy, change)

    with pytest.raises(ModelError, match=message):
        load_manifest(weights_copy)


def test_manifest_that_is_not_utf8_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_bytes(b'{"input_size": "\xff"}')

    with pytest.raises(ModelError, match="unreadable manifest"):
        load_manifest(tmp_path)
