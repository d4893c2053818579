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
    with pytest.raises(ConfigError, match=message):
        load_train_config(recipe_file(tmp_path, "datasets:\n  - {name: a, path: x}\n" + text))


BASE_RECIPE = """\
encoder: notebook
input_size: 56
datasets:
  - {name: lfw, path: somewhere, pick: centre}
pairs_file: PAIRS
holdout_folds: [2]
"""


def recipe_file(tmp_path, text: str):
    """A recipe file of ``text``; PAIRS in it becomes the path of a small LFW pairs file."""
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1 1\nA 1 2\nB 1 C 1\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text.replace("PAIRS", str(pairs)))
    return recipe


@pytest.mark.parametrize("extra, message", [
    ("frozen: stem\n", "frozen must be a list of names"),
    ("frozen: [1, 2]\n", "frozen must be a list of names"),
    ("float16_tflite: 'false'\n", "float16_tflite must be true or false"),
    ("rank: abc\n", "rank must be a whole number"),
    ("rank: -3\n", "rank must be at least 0"),
    ("epochs: ten\n", "epochs must be a whole number"),
    ("epochs: -1\n", "epochs must be at least 1"),
    ("identities_per_batch: 0\n", "identities_per_batch must be at least 2"),
    ("learning_rate: .nan\n", "learning_rate must be a number"),
    ("learning_rate: 0\n", "learning_rate must be above 0"),
    ("encoder: dlib-resnet50\n", "encoder must be dlib-resnet or one of"),
    ("augment: none\n", "augment must be a mapping"),
    ("augment: {flipp: 0.5}\n", "unknown augment keys \\['flipp'\\]"),
    ("augment: {blur: -1}\n", "augment.blur must be at least 0"),
])
def test_recipe_values_of_the_wrong_type_or_range_are_refused_by_name(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_train_config(recipe_file(tmp_path, BASE_RECIPE + extra))


@pytest.mark.parametrize("text, message", [
    ("datasets:\n  - {name: lfw, path: x}\n", "needs pairs_file and holdout_folds"),
    ("datasets:\n  - {name: lfw, path: x}\npairs_file: nowhere.txt\nholdout_folds: [1]\n",
     "pairs_file nowhere.txt: no such file"),
    ("datasets:\n  - {name: lfw, pik: centre, path: x}\n", "each dataset is"),
    ("datasets: [lfw]\n", "each dataset is"),
    ("datasets: {name: lfw}\n", "datasets must be a list"),
    ("- a list\n", "a recipe is a mapping"),
    ("epochs: [1\n", "not valid YAML"),
])
def test_recipes_that_could_not_finish_a_run_are_refused_before_it_starts(tmp_path, text,
                                                                         message):
    with pytest.raises(ConfigError, match=message):
        load_train_config(recipe_file(tmp_path, text))


def test_recipe_without_an_lfw_dataset_is_refused(tmp_path):
    text = BASE_RECIPE.replace("name: lfw", "name: x")

    with pytest.raises(ConfigError, match="needs a dataset named lfw"):
        load_train_config(recipe_file(tmp_path, text))


def test_recipe_in_another_encoding_is_refused(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes("name: caf\u00e9\n".encode("latin-1"))

    with pytest.raises(ConfigError, match="not a text file in UTF-8"):
        load_train_config(recipe)


def test_a_cache_of_faces_follows_its_folder_when_images_come_or_go(small_dataset, tmp_path,
                                                                    caplog):
    from livesiam.training.data import cached_faceset

    cache = tmp_path / "cache"
    first = cached_faceset(small_dataset, "tiny", cache, size=56)
    assert len(first) == 32
    again = cached_faceset(small_dataset, "tiny", cache, size=56)
    np.testing.assert_array_equal(again.crops, first.crops)

    extra = sorted((small_dataset / "s2").iterdir())[0]
    (small_dataset / "s1" / "copy.png").symlink_to(extra.resolve())
    with caplog.at_level(logging.WARNING):
        grown = cached_faceset(small_dataset, "tiny", cache, size=56)
    assert len(grown) == 33
    assert "building it again" in caplog.text

    other = tmp_path / "other"
    (other / "p1").mkdir(parents=True)
    (other / "p1" / "a.png").symlink_to(extra.resolve())
    (other / "p1" / "b.png").symlink_to(extra.resolve())
    assert len(cached_faceset(other, "tiny", cache, size=56)) == 2


def test_csv_pairs_saved_by_a_spreadsheet_with_a_byte_order_mark_are_read(tmp_path):
    from livesiam.training.data import read_csv_pairs

    pairs = tmp_path / "pairs.csv"
    pairs.write_bytes("left,right,same\r\na/1.jpg,a/2.jpg,1\r\na/1.jpg,b/1.jpg,0\r\n"
                      .encode("utf-8-sig"))

    assert [p[:3] for p in read_csv_pairs(pairs)] == [("a/1.jpg", "a/2.jpg", True),
                                                      ("a/1.jpg", "b/1.jpg", False)]


@pytest.mark.parametrize("header", ["2 0", "0 3", "-1 2"])
def test_lfw_pairs_header_without_positive_counts_is_an_input_error(tmp_path, header):
    from livesiam.errors import InputError
    from livesiam.training.data import read_lfw_pairs

    pairs = tmp_path / "pairs.txt"
    pairs.write_text(f"{header}\nAda 1 2\n")

    with pytest.raises(InputError, match="two positive numbers"):
        read_lfw_pairs(pairs)
