"""Training runs: bad data is reported and skipped, and an interrupted run resumes."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from livesiam.errors import ConfigError
from livesiam.training.data import scan_identities
from livesiam.training.train import (DatasetSpec, TrainConfig, Trainer, load_train_config,
                                     load_training_faces)


@pytest.fixture()
def small_dataset(shared_data, tmp_path):
    """Eight ORL people, plus an empty identity folder and an unreadable image."""
    root = tmp_path / "faces"
    for person in range(1, 9):
        folder = root / f"s{person}"
        folder.mkdir(parents=True)
        for image in sorted((shared_data / "faces" / "orl" / f"s{person}").glob("*.png"))[:4]:
            (folder / image.name).symlink_to(image)
    (root / "nobody").mkdir()
    (root / "s1" / "broken.png").write_bytes(b"not an image at all")
    return root


def config_for(root, tmp_path, epochs: int) -> TrainConfig:
    return TrainConfig(name="tiny", encoder="notebook", input_size=56, embedding_dim=16,
                       datasets=[DatasetSpec("tiny", str(root))], distill_weight=0.0,
                       epochs=epochs, identities_per_batch=4, images_per_identity=2,
                       singletons_per_batch=0, learning_rate=1e-3,
                       cache_dir=str(tmp_path / "cache"))


def test_empty_identities_and_unreadable_images_are_reported_and_skipped(small_dataset,
                                                                        tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        identities = scan_identities(small_dataset)
        faces, teacher = load_training_faces(config_for(small_dataset, tmp_path, 1))
    assert "nobody" not in identities
    assert teacher is None
    assert len(faces) == 32
    assert "broken.png" in caplog.text and "nobody" in caplog.text


def test_a_resumed_run_continues_from_its_last_checkpoint(small_dataset, tmp_path):
    out = tmp_path / "run"
    faces, _ = load_training_faces(config_for(small_dataset, tmp_path, 1))

    first = Trainer(config_for(small_dataset, tmp_path, 1), out)
    first.fit(faces, None, steps_per_epoch=3)
    saved = json.loads((out / "checkpoint.json").read_text())
    assert saved["epoch"] == 1
    weights_after_one = [w.copy() for w in first.encoder.get_weights()]

    second = Trainer(config_for(small_dataset, tmp_path, 2), out)
    second.fit(faces, None, steps_per_epoch=3)
    history = json.loads((out / "checkpoint.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[0] == saved["history"][0]
    changed = any(not np.allclose(a, b)
                  for a, b in zip(weights_after_one, second.encoder.get_weights()))
    assert changed, "the second epoch did not train"

    # Run again to 2 epochs: nothing is left to do, and nothing starts over.
    third = Trainer(config_for(small_dataset, tmp_path, 2), out)
    third.fit(faces, None, steps_per_epoch=3)
    assert len(json.loads((out / "checkpoint.json").read_text())["history"]) == 2
    for a, b in zip(second.encoder.get_weights(), third.encoder.get_weights()):
        np.testing.assert_allclose(a, b)


def test_frozen_layers_keep_their_weights_while_the_rest_trains(small_dataset, tmp_path):
    config = config_for(small_dataset, tmp_path, 1)
    config.frozen = ["conv1", "conv2"]
    faces, _ = load_training_faces(config)
    trainer = Trainer(config, tmp_path / "run")
    before = {layer.name: [w.copy() for w in layer.get_weights()]
              for layer in trainer.encoder.layers}

    trainer.fit(faces, None, steps_per_epoch=3)

    for layer in trainer.encoder.layers:
        moved = any(not np.allclose(a, b) for a, b in zip(before[layer.name],
                                                           layer.get_weights()))
        if layer.name in ("conv1", "conv2"):
            assert not moved, f"{layer.name} is frozen but changed"
        elif layer.name in ("conv3", "projection"):
            assert moved, f"{layer.name} did not train"


def test_frozen_names_that_match_no_layer_are_a_config_error(small_dataset, tmp_path):
    config = config_for(small_dataset, tmp_path, 1)
    config.frozen = ["stem"]

    with pytest.raises(ConfigError, match="no encoder layer is named after"):
        Trainer(config, tmp_path / "run")


@pytest.mark.parametrize("text, message", [
    ("teacher: online\n", "online teacher needs encoder dlib-resnet"),
    ("teacher: remote\n", "teacher must be one of"),
    ("norm: group\n", "norm must be one of"),
    ("layout: mtcnn\n", "layout must be one of"),
    ("encoder: dlib-resnet\n", "dlib-resnet reads 150x150 crops in the dlib-chip layout"),
])
def test_recipes_with_impossible_settings_are_refused_by_name(tmp_path, text, message):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("datasets:\n  - {name: a, path: somewhere}\n" + text)

    with pytest.raises(ConfigError, match=message):
        load_train_config(recipe)
