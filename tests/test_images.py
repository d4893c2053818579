"""Still images come back as upright 8-bit RGB arrays, whatever their file stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from livesiam.errors import InputError
from livesiam.images import is_image_file, load_image

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)
EXIF_ORIENTATION = 0x0112
ROTATED_90_CLOCKWISE = 6  # the viewer turns the stored pixels a quarter turn clockwise


def red_left_blue_right(width: int = 40, height: int = 20) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = RED
    image[:, width // 2:] = BLUE
    return image


def test_plain_rgb_png_is_returned_unchanged(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (9, 13, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "noise.png")

    loaded = load_image(tmp_path / "noise.png")

    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, pixels)


def test_exif_orientation_turns_the_photo_upright(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATED_90_CLOCKWISE
    Image.fromarray(red_left_blue_right()).save(tmp_path / "phone.jpg", exif=exif, quality=95)

    loaded = load_image(tmp_path / "phone.jpg")

    # Stored 40 wide and 20 high; turned clockwise, the red left half ends up on top.
    assert loaded.shape == (40, 20, 3)
    np.testing.assert_allclose(loaded[5, 10], RED, atol=30)
    np.testing.assert_allclose(loaded[35, 10], BLUE, atol=30)


def test_photo_without_orientation_keeps_its_layout(tmp_path: Path) -> None:
    Image.fromarray(red_left_blue_right()).save(tmp_path / "flat.jpg", quality=95)

    loaded = load_image(tmp_path / "flat.jpg")

    assert loaded.shape == (20, 40, 3)
    np.testing.assert_allclose(loaded[10, 5], RED, atol=30)


def test_grey_image_becomes_three_equal_channels(tmp_path: Path) -> None:
    grey = np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5)
    Image.fromarray(grey, mode="L").save(tmp_path / "grey.png")

    loaded = load_image(tmp_path / "grey.png")

    assert loaded.shape == (5, 5, 3)
    for channel in range(3):
        np.testing.assert_array_equal(loaded[:, :, channel], grey)


def test_palette_image_gives_its_palette_colours(tmp_path: Path) -> None:
    Image.fromarray(red_left_blue_right()).convert("P", palette=Image.Palette.ADAPTIVE,
                                                   colors=2).save(tmp_path / "palette.gif")
    with Image.open(tmp_path / "palette.gif") as stored:
        assert stored.mode == "P"

    loaded = load_image(tmp_path / "palette.gif")

    assert tuple(loaded[10, 5]) == RED
    assert tuple(loaded[10, 35]) == BLUE


def test_transparent_pixels_show_as_white_and_opaque_ones_keep_their_colour(
        tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:, :2] = (*RED, 255)
    rgba[:, 2:] = (0, 0, 0, 0)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "cutout.png")

    loaded = load_image(tmp_path / "cutout.png")

    assert loaded.shape == (4, 4, 3)
    assert tuple(loaded[0, 0]) == RED
    assert tuple(loaded[0, 3]) == WHITE


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path: Path, suffix: str) -> None:
    deep = np.array([[0, 32768], [65535, 65535]], np.uint16)
    Image.fromarray(deep).save(tmp_path / f"deep{suffix}")

    loaded = load_image(tmp_path / f"deep{suffix}")

    assert loaded.dtype == np.uint8
    assert loaded[0, 0, 0] == 0
    assert abs(int(loaded[0, 1, 0]) - 128) <= 1
    assert loaded[1, 0, 0] == 255


def test_dark_sixteen_bit_image_stays_dark(tmp_path: Path) -> None:
    # Values up to 250 of 65535 are under 0.4 % of full scale: black, not mid-grey.
    dark = np.array([[0, 100], [200, 250]], np.uint16)
    Image.fromarray(dark).save(tmp_path / "dark.png")

    loaded = load_image(tmp_path / "dark.png")

    assert loaded.max() <= 1


def test_sixteen_bit_colour_tiff_keeps_its_hue(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    deep = np.zeros((4, 4, 3), np.uint16)
    deep[..., 0] = 65535
    deep[..., 2] = 32768
    tifffile.imwrite(tmp_path / "deep.tif", deep)

    loaded = load_image(tmp_path / "deep.tif")

    assert loaded.shape == (4, 4, 3)
    assert loaded[0, 0, 0] == 255
    assert loaded[0, 0, 1] == 0
    assert abs(int(loaded[0, 0, 2]) - 128) <= 1


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "absent.jpg")


def test_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder"):
        load_image(tmp_path)


def test_text_file_named_like_a_photo_is_an_input_error(tmp_path: Path) -> None:
    fake = tmp_path / "holiday.jpg"
    fake.write_text("these are notes, not pixels\n")

    with pytest.raises(InputError, match="holiday.jpg"):
        load_image(fake)


def test_empty_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")

    with pytest.raises(InputError):
        load_image(tmp_path / "empty.png")


def test_truncated_jpeg_is_an_input_error(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "whole.jpg")
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])

    with pytest.raises(InputError, match="cut.jpg"):
        load_image(tmp_path / "cut.jpg")


def test_single_pixel_image_is_too_small(tmp_path: Path) -> None:
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")

    with pytest.raises(InputError, match="too small"):
        load_image(tmp_path / "dot.png")


def test_image_files_are_recognised_by_suffix_in_any_case(tmp_path: Path) -> None:
    for name in ("a.JPG", "b.png", "c.txt"):
        (tmp_path / name).write_bytes(b"x")

    assert is_image_file(tmp_path / "a.JPG")
    assert is_image_file(tmp_path / "b.png")
    assert not is_image_file(tmp_path / "c.txt")
    assert not is_image_file(tmp_path / "absent.png")


def test_a_named_pipe_is_refused_instead_of_read_forever(tmp_path) -> None:
    import os

    pipe = tmp_path / "camera.png"
    os.mkfifo(pipe)

    with pytest.raises(InputError, match="not a regular file"):
        load_image(pipe)


def test_an_image_too_large_to_decode_safely_is_an_input_error(tmp_path, monkeypatch) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 100x100 is over twice this

    with pytest.raises(InputError, match="too large to read safely"):
        load_image(path)
