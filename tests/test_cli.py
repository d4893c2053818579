"""The `livesiam` command as a user runs it: clear one-line errors, and the analysis files.

Every test runs the installed command in a fresh process, as a shell would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from livesiam.gallery import load_gallery

LIVESIAM = Path(sys.executable).with_name("livesiam")
EXIT_ERROR = 2
FACE_KEYS = {"box", "track", "label", "score", "best"}


def livesiam(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIVESIAM_NATIVE_LOGS": "0"}
    return subprocess.run([str(LIVESIAM), *map(str, args)], capture_output=True, text=True,
                          timeout=180, cwd=cwd, env=env)


def assert_one_line_error(result: subprocess.CompletedProcess, *mentions: str) -> None:
    """Exit code 2 and a single `livesiam: error:` line that names the problem."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == EXIT_ERROR, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("livesiam: error: ")
    for mention in mentions:
        assert mention in lines[0]


def blank_png(path: Path) -> Path:
    Image.new("RGB", (320, 240), (128, 128, 128)).save(path)
    return path


@pytest.fixture(scope="module")
def obama(shared_data: Path) -> Path:
    return shared_data / "videos" / "hamilton" / "obama.jpg"


def three_frames(folder: Path, photo: Path) -> Path:
    """The photo, a blank frame of the same size, the photo again."""
    folder.mkdir()
    shutil.copyfile(photo, folder / "frame0.jpg")
    with Image.open(photo) as image:
        Image.new("RGB", image.size, (128, 128, 128)).save(folder / "frame1.png")
    shutil.copyfile(photo, folder / "frame2.jpg")
    return folder


@pytest.fixture
def frames(tmp_path: Path, obama: Path) -> Path:
    return three_frames(tmp_path / "frames", obama)


# --- help ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--help"], ["verify", "--help"], ["analyze", "--help"]])
def test_help_answers_at_once(args: list[str]) -> None:
    started = time.perf_counter()
    result = livesiam(*args)

    assert result.returncode == 0
    assert "usage: livesiam" in result.stdout
    assert time.perf_counter() - started < 10


def test_help_loads_neither_tensorflow_nor_mediapipe() -> None:
    check = ("import sys\n"
             "from livesiam.cli import main\n"
             "try:\n"
             "    main(['verify', '--help'])\n"
             "except SystemExit:\n"
             "    pass\n"
             "heavy = {'tensorflow', 'mediapipe', 'keras'} & set(sys.modules)\n"
             "sys.exit(f'loaded {sorted(heavy)}' if heavy else 0)\n")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            timeout=60)

    assert result.returncode == 0, result.stderr


def test_no_command_shows_the_usage_and_fails() -> None:
    result = livesiam()

    assert result.returncode == EXIT_ERROR
    assert "usage: livesiam" in result.stdout


# --- bad input -----------------------------------------------------------------------------

def test_verify_with_a_missing_image(tmp_path: Path, obama: Path) -> None:
    result = livesiam("verify", tmp_path / "absent.jpg", obama)

    assert_one_line_error(result, "absent.jpg", "no such file")


def test_verify_with_a_text_file_named_like_a_photo(tmp_path: Path, obama: Path) -> None:
    fake = tmp_path / "portrait.jpg"
    fake.write_text("not an image\n")

    result = livesiam("verify", obama, fake)

    assert_one_line_error(result, "portrait.jpg", "not a readable image")


def test_verify_with_an_image_without_a_face(tmp_path: Path, obama: Path) -> None:
    result = livesiam("verify", blank_png(tmp_path / "wall.png"), obama)

    assert_one_line_error(result, "wall.png", "no face found")


def test_analyze_a_video_that_will_not_open(tmp_path: Path, obama: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video\n")

    result = livesiam("analyze", fake, "--target", obama, "--out", tmp_path / "out")

    assert_one_line_error(result, "clip.mp4")
    assert not (tmp_path / "out" / "summary.json").exists()


def test_analyze_an_empty_folder(tmp_path: Path, obama: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = livesiam("analyze", tmp_path / "empty", "--target", obama, "--out", tmp_path / "o")

    assert_one_line_error(result, "empty", "holds no images")


def test_analyze_with_a_target_that_points_nowhere(tmp_path: Path, frames: Path) -> None:
    result = livesiam("analyze", frames, "--target", f"ana={tmp_path / 'ana.jpg'}",
                      "--out", tmp_path / "out")

    assert_one_line_error(result, "--target", "ana.jpg", "does not exist")


def test_analyze_with_nobody_to_look_for(tmp_path: Path, frames: Path) -> None:
    result = livesiam("analyze", frames, "--out", tmp_path / "out")

    assert_one_line_error(result, "nobody to look for", "--target", "--gallery")


def test_analyze_with_a_gallery_that_does_not_exist(tmp_path: Path, frames: Path) -> None:
    result = livesiam("analyze", frames, "--gallery", tmp_path / "g.npz", "--out", tmp_path / "o")

    assert_one_line_error(result, "g.npz", "livesiam enroll")


@pytest.mark.parametrize("fps", ["0", "-5", "nan"])
def test_analyze_with_a_frame_rate_that_is_not_positive(tmp_path: Path, frames: Path,
                                                        obama: Path, fps: str) -> None:
    result = livesiam("analyze", frames, "--target", obama, "--fps", fps, "--out", tmp_path / "o")

    assert_one_line_error(result, "--fps", fps)


def test_analyze_with_an_unknown_config_option(tmp_path: Path, frames: Path,
                                               obama: Path) -> None:
    config = tmp_path / "options.yaml"
    config.write_text("detect: {modle: full}\n")

    result = livesiam("analyze", frames, "--target", obama, "--config", config,
                      "--out", tmp_path / "o")

    assert_one_line_error(result, "options.yaml", "unknown option 'modle'")


# --- enrol, then analyse -------------------------------------------------------------------

@dataclass
class Analysis:
    enroll: subprocess.CompletedProcess
    analyze: subprocess.CompletedProcess
    gallery: Path
    out: Path


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory, obama: Path) -> Analysis:
    """`enroll obama` into a new gallery, then `analyze` three frames against it."""
    root = tmp_path_factory.mktemp("cli")
    folder = three_frames(root / "frames", obama)
    gallery = root / "g.npz"

    enrolled = livesiam("enroll", "obama", obama, "--gallery", gallery)
    analysed = livesiam("analyze", folder, "--gallery", gallery, "--out", root / "o",
                        "--no-video", "--quiet")
    return Analysis(enrolled, analysed, gallery, root / "o")


def test_enroll_writes_a_gallery_and_says_who_is_in_it(analysis: Analysis) -> None:
    assert analysis.enroll.returncode == 0, analysis.enroll.stderr
    assert analysis.enroll.stdout.startswith("enrolled obama: 1 photo(s)")
    assert str(analysis.gallery) in analysis.enroll.stdout
    gallery = load_gallery(analysis.gallery)
    # The photo and, enrolled by default, its mirror image.
    assert gallery.names == ["obama", "obama"]
    assert gallery.sources[1].endswith("(mirrored)")


def test_analyze_writes_the_summary_and_one_line_per_frame(analysis: Analysis) -> None:
    assert analysis.analyze.returncode == 0, analysis.analyze.stderr
    assert "Traceback" not in analysis.analyze.stderr
    assert analysis.analyze.stdout.startswith("3 frames in ")
    assert (analysis.out / "summary.json").is_file()
    assert (analysis.out / "frames.jsonl").is_file()
    assert not (analysis.out / "annotated.mp4").exists()


def test_summary_has_the_documented_fields(analysis: Analysis) -> None:
    summary = json.loads((analysis.out / "summary.json").read_text())

    assert {"frames", "seconds", "fps", "video_fps", "labels"} <= set(summary)
    assert summary["frames"] == 3
    assert summary["seconds"] > 0
    assert summary["fps"] > 0
    assert summary["video_fps"] == 30.0
    assert isinstance(summary["labels"], dict)
    for intervals in summary["labels"].values():
        for start, end in intervals:
            assert 0 <= start < end


def test_frame_lines_count_from_zero_at_the_folder_frame_rate(analysis: Analysis) -> None:
    lines = (analysis.out / "frames.jsonl").read_text().splitlines()
    frames = [json.loads(line) for line in lines]

    assert [set(frame) for frame in frames] == [{"frame", "time", "faces"}] * 3
    assert [frame["frame"] for frame in frames] == [0, 1, 2]
    np.testing.assert_allclose([frame["time"] for frame in frames], [0, 1 / 30, 2 / 30],
                               atol=1e-4)
    assert frames[1]["faces"] == [], "the blank frame shows nobody"
    for frame in (frames[0], frames[2]):
        (face,) = frame["faces"]
        assert set(face) == FACE_KEYS
        x, y, w, h = face["box"]
        assert all(isinstance(v, int) for v in face["box"])
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert isinstance(face["score"], float)
        assert face["track"] is None or isinstance(face["track"], int)
        assert face["best"] is not None and face["label"] in (None, face["best"])


def test_the_enrolment_photo_itself_is_recognised(analysis: Analysis) -> None:
    # The same picture as the enrolment photo: any working encoder scores it near 1.
    lines = (analysis.out / "frames.jsonl").read_text().splitlines()
    frames = [json.loads(line) for line in lines]
    summary = json.loads((analysis.out / "summary.json").read_text())

    assert frames[0]["faces"][0]["label"] == "obama"
    assert frames[2]["faces"][0]["label"] == "obama"
    assert frames[0]["faces"][0]["score"] > 0.9
    assert list(summary["labels"]) == ["obama"]


@pytest.mark.parametrize("text, mentions", [
    ("track: {max_missed: .nan}", "finite"),
    ("embed: {threads: 0}", "embed.threads"),
    ("detect: {upscale_below_px: 100000}", "detect.upscale_below_px"),
    ("detect: {min_confidence: 7}", "detect.min_confidence"),
    ("align: {size: 0}", "align.size"),
])
def test_out_of_range_config_values_are_refused_by_name(tmp_path, obama, text, mentions):
    config = tmp_path / "odd.yaml"
    config.write_text(text + "\n")
    assert_one_line_error(livesiam("verify", obama, obama, "--config", config), mentions)


def test_text_inputs_that_are_not_utf8_are_refused_clearly(tmp_path, obama):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    assert_one_line_error(livesiam("verify", obama, obama, "--config", binary), "UTF-8")
    pairs = tmp_path / "pairs.csv"
    pairs.write_bytes(b"\xff\xfe\x00\x01garbage")
    assert_one_line_error(livesiam("evaluate", "--pairs", pairs, "--root", tmp_path,
                                   "--out", tmp_path / "out"), "UTF-8")


def test_malformed_pairs_rows_are_refused_with_their_line(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("left,right,same\na/1.jpg,b/1.jpg,0\nbad row\n")
    assert_one_line_error(livesiam("evaluate", "--pairs", pairs, "--out", tmp_path / "o"),
                          "pairs.csv:3")
    lfw = tmp_path / "pairs.txt"
    lfw.write_text("1\t1\nAda\t1\tx\n")
    assert_one_line_error(livesiam("evaluate", "--pairs", lfw, "--out", tmp_path / "o"),
                          "pairs.txt:2")


def test_two_enrolments_at_once_keep_both_people(tmp_path, shared_data):
    stills = shared_data / "videos" / "hamilton"
    gallery = tmp_path / "g.npz"
    env = {**os.environ, "LIVESIAM_NATIVE_LOGS": "0"}
    runs = [subprocess.Popen([str(LIVESIAM), "enroll", name, str(stills / photo),
                              "--gallery", str(gallery)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for name, photo in (("Obama", "obama.jpg"), ("Biden", "biden.jpg"))]
    for run in runs:
        assert run.wait(timeout=180) == 0, run.stderr.read()
    assert set(load_gallery(gallery).names) == {"Obama", "Biden"}
