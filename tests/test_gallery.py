"""Targets from the command line, gallery files, and enrolment from photos."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from livesiam.align import align_face
from livesiam.detect import FaceDetector
from livesiam.errors import InputError, ModelError, NoFaceError
from livesiam.gallery import (Gallery, default_gallery_path, embed_photos, enroll, load_gallery,
                              parse_target, photos_in, save_gallery, target_specs)
from livesiam.images import load_image

DIM = 8


class RecordingEmbedder:
    """Stands in for the encoder: remembers the crops it was given, returns fixed rows."""

    input_size = 112
    layout = "arcface"

    def __init__(self, digest: str = "digest-a") -> None:
        self.manifest = SimpleNamespace(
            embedding_dim=DIM, data={"files": {"encoder.tflite": {"sha256": digest}}})
        self.crops: list[np.ndarray] = []

    def embed_many(self, crops: np.ndarray) -> np.ndarray:
        self.crops.extend(crops)
        rows = np.zeros((len(crops), DIM), np.float32)
        rows[:, 0] = 1.0
        return rows



def photo(folder: Path, name: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(path)
    return path


def small_gallery(encoder: str = "digest-a") -> Gallery:
    embeddings = np.eye(3, DIM, dtype=np.float32)
    return Gallery(["ana", "ben", "ana"], embeddings, ["a1.jpg", "b.jpg", "a2.jpg"], encoder)


# --- targets from the command line ---------------------------------------------------------

def test_target_with_a_name(tmp_path: Path) -> None:
    path = photo(tmp_path, "IMG_0001.jpg")

    assert parse_target(f"Ana Lopez={path}") == ("Ana Lopez", path)


def test_target_name_defaults_to_the_photo_stem(tmp_path: Path) -> None:
    path = photo(tmp_path, "ana.jpg")

    assert parse_target(str(path)) == ("ana", path)


def test_target_name_defaults_to_the_folder_name(tmp_path: Path) -> None:
    photo(tmp_path / "ben", "1.jpg")

    assert parse_target(str(tmp_path / "ben")) == ("ben", tmp_path / "ben")


def test_existing_path_with_an_equals_sign_is_a_path_not_a_name(tmp_path: Path) -> None:
    path = photo(tmp_path, "x=1.png")

    assert parse_target(str(path)) == ("x=1", path)


def test_target_that_does_not_exist_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        parse_target(f"ana={tmp_path / 'absent.jpg'}")


def test_folder_of_photos_lists_only_images_in_name_order(tmp_path: Path) -> None:
    second, first = photo(tmp_path, "b.png"), photo(tmp_path, "a.jpg")
    (tmp_path / "notes.txt").write_text("not a photo")

    assert photos_in(tmp_path) == [first, second]


def test_folder_without_photos_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a photo")

    with pytest.raises(InputError, match="no photos"):
        photos_in(tmp_path)


def test_values_with_the_same_name_are_one_target_in_first_seen_order(tmp_path: Path) -> None:
    a1 = photo(tmp_path, "a1.jpg")
    b = photo(tmp_path, "b.jpg")
    a2, a3 = photo(tmp_path / "more", "a2.jpg"), photo(tmp_path / "more", "a3.jpg")

    specs = target_specs([f"ana={a1}", f"ben={b}", f"ana={tmp_path / 'more'}"])

    assert [(s.name, s.photos) for s in specs] == [("ana", [a1, a2, a3]), ("ben", [b])]


def test_default_gallery_follows_the_environment(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVESIAM_GALLERY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_gallery_path() == tmp_path / "data" / "livesiam" / "gallery.npz"

    monkeypatch.setenv("LIVESIAM_GALLERY", str(tmp_path / "team.npz"))
    assert default_gallery_path() == tmp_path / "team.npz"


# --- gallery files -------------------------------------------------------------------------

def test_gallery_survives_a_save_and_load(tmp_path: Path) -> None:
    saved = small_gallery()

    save_gallery(tmp_path / "sub" / "g.npz", saved)
    loaded = load_gallery(tmp_path / "sub" / "g.npz")

    assert loaded.names == saved.names
    assert loaded.sources == saved.sources
    assert loaded.encoder == saved.encoder
    np.testing.assert_array_equal(loaded.embeddings, saved.embeddings)
    identities = loaded.identities()
    assert list(identities) == ["ana", "ben"]
    assert identities["ana"].shape == (2, DIM)


def test_failed_save_leaves_the_old_gallery_intact(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.npz"
    save_gallery(path, small_gallery())

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError):
        save_gallery(path, Gallery(["zoe"], np.ones((1, DIM), np.float32), ["z.jpg"], "x"))
    monkeypatch.undo()

    assert load_gallery(path).names == ["ana", "ben", "ana"]
    assert [p.name for p in tmp_path.iterdir()] == ["g.npz"], "no temporary file is left"


def test_missing_gallery_says_how_to_enrol(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="livesiam enroll"):
        load_gallery(tmp_path / "absent.npz")


@pytest.mark.parametrize("content", [b"not a zip at all", b""])
def test_file_that_is_not_a_gallery_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "g.npz").write_bytes(content)

    with pytest.raises(InputError, match="not a LiveSiam gallery"):
        load_gallery(tmp_path / "g.npz")


def test_truncated_gallery_is_an_input_error(tmp_path: Path) -> None:
    save_gallery(tmp_path / "g.npz", small_gallery())
    data = (tmp_path / "g.npz").read_bytes()
    (tmp_path / "g.npz").write_bytes(data[: len(data) // 2])

    with pytest.raises(InputError, match="not a LiveSiam gallery"):
        load_gallery(tmp_path / "g.npz")


def test_npz_without_the_gallery_arrays_is_an_input_error(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))

    with pytest.raises(InputError, match="not a LiveSiam gallery"):
        load_gallery(tmp_path / "other.npz")


def test_gallery_of_another_encoder_is_refused(tmp_path: Path) -> None:
    save_gallery(tmp_path / "g.npz", small_gallery(encoder="digest-a"))

    assert load_gallery(tmp_path / "g.npz", RecordingEmbedder("digest-a")).names
    with pytest.raises(ModelError, match="another encoder"):
        load_gallery(tmp_path / "g.npz", RecordingEmbedder("digest-b"))


# --- enrolment -----------------------------------------------------------------------------

def test_enrolment_photo_of_two_people_uses_the_largest_face_and_warns(
        tmp_path: Path, stills: Path, detector: FaceDetector,
        caplog: pytest.LogCaptureFixture) -> None:
    two = stills / "two_people.jpg"
    image = load_image(two)
    largest = detector.detect(image)[0]
    embedder = RecordingEmbedder()

    with caplog.at_level(logging.WARNING, logger="livesiam.gallery"):
        gallery = enroll(tmp_path / "g.npz", "pair", [two], detector, embedder)

    (crop,) = embedder.crops
    np.testing.assert_array_equal(crop, align_face(image, largest, 112))
    assert "2 faces found; using the largest" in caplog.text
    assert gallery.names == ["pair"]


def test_enrolling_adds_to_an_existing_gallery(tmp_path: Path, stills: Path,
                                               detector: FaceDetector) -> None:
    path = tmp_path / "g.npz"
    embedder = RecordingEmbedder()

    enroll(path, "obama", [stills / "obama.jpg", stills / "obama2.jpg"], detector, embedder)
    enroll(path, "biden", [stills / "biden.jpg"], detector, embedder)

    gallery = load_gallery(path, embedder)
    assert gallery.names == ["obama", "obama", "biden"]
    assert gallery.sources == [str(stills / n) for n in ("obama.jpg", "obama2.jpg", "biden.jpg")]
    assert gallery.embeddings.shape == (3, DIM)
    assert gallery.encoder == "digest-a"


def test_enrolling_a_photo_without_a_face_fails_and_writes_nothing(
        tmp_path: Path, detector: FaceDetector) -> None:
    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(blank)

    with pytest.raises(NoFaceError, match="no face found"):
        enroll(tmp_path / "g.npz", "nobody", [blank], detector, RecordingEmbedder())

    assert not (tmp_path / "g.npz").exists()


def test_unusable_photos_can_be_skipped_but_not_all_of_them(
        tmp_path: Path, stills: Path, detector: FaceDetector,
        caplog: pytest.LogCaptureFixture) -> None:
    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(blank)
    good = tmp_path / "obama.jpg"
    shutil.copyfile(stills / "obama.jpg", good)

    with caplog.at_level(logging.WARNING, logger="livesiam.gallery"):
        rows = embed_photos([blank, good], detector, RecordingEmbedder(), skip_bad=True)

    assert rows.shape == (1, DIM)
    assert "wall.png" in caplog.text
    with pytest.raises(NoFaceError, match="no usable face"):
        embed_photos([blank], detector, RecordingEmbedder(), skip_bad=True)
    with pytest.raises(NoFaceError):
        embed_photos([blank, good], detector, RecordingEmbedder(), skip_bad=False)
