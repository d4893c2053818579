"""Analysis output: per-frame lines kept as they come, a playable video, an honest summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from livesiam.capture import open_source
from livesiam.errors import OutputError
from livesiam.report import AnalysisWriter, frame_period, label_intervals
from livesiam.results import FaceResult, FrameResult

FPS = 10.0


def result(index: int, *labels: str | None, fps: float = FPS) -> FrameResult:
    faces = [FaceResult(box=(10 * k, 20, 30, 40), label=label, score=0.8 if label else 0.3,
                        track=k) for k, label in enumerate(labels)]
    return FrameResult(index=index, time=index / fps, faces=faces)


def picture(index: int, size: tuple[int, int] = (96, 64)) -> np.ndarray:
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:, : (index * 7) % size[0]] = (200, 60, 30)
    return image


# --- label intervals -----------------------------------------------------------------------

def test_consecutive_frames_form_one_interval_ending_one_period_after_the_last() -> None:
    frames = [result(i, "ada" if 2 <= i <= 5 else None) for i in range(10)]
    assert label_intervals(frames, 0.1) == {"ada": [[0.2, 0.6]]}


def test_gaps_up_to_max_gap_frames_are_bridged_longer_ones_split() -> None:
    present = {0, 1, 4, 5, 9, 10}        # gaps of 2 frames (2, 3) and of 3 frames (6, 7, 8)
    frames = [(i / FPS, ["ada"] if i in present else []) for i in range(12)]
    assert label_intervals(frames, 0.1, max_gap_frames=2) == {"ada": [[0.0, 0.6], [0.9, 1.1]]}
    assert label_intervals(frames, 0.1, max_gap_frames=3) == {"ada": [[0.0, 1.1]]}
    assert label_intervals(frames, 0.1, max_gap_frames=0) == {
        "ada": [[0.0, 0.2], [0.4, 0.6], [0.9, 1.1]]}


def test_each_label_has_its_own_intervals_and_unknown_faces_none() -> None:
    frames = [result(0, "ada", None), result(1, "ada", "grace"), result(2, "grace"),
              result(3, None), result(4, None), result(5, None), result(6, "grace")]
    assert label_intervals(frames, 0.1) == {"ada": [[0.0, 0.2]],
                                            "grace": [[0.1, 0.3], [0.6, 0.7]]}


def test_skipped_frames_do_not_split_an_interval() -> None:
    # Frames dropped by real-time playback leave time gaps but are not evidence of absence.
    frames = [(t, ["ada"]) for t in (0.0, 0.5, 1.0, 1.5)]
    assert label_intervals(frames, 0.1) == {"ada": [[0.0, 1.6]]}


def test_no_frames_no_intervals_and_bad_arguments_refused() -> None:
    assert label_intervals([], 0.04) == {}
    with pytest.raises(ValueError):
        label_intervals([], 0.0)
    with pytest.raises(ValueError):
        label_intervals([], 0.1, max_gap_frames=-1)


def test_frame_period_prefers_the_rate_then_the_median_interval() -> None:
    assert frame_period([0.0, 1.0], fps=25.0) == pytest.approx(0.04)
    assert frame_period([0.0, 0.1, 0.2, 0.5, 0.6]) == pytest.approx(0.1)
    assert frame_period([2.0]) == pytest.approx(1 / 30)


# --- the writer ----------------------------------------------------------------------------

def test_writer_produces_lines_video_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "run"
    frames = [result(i, "ada" if i < 12 else None, None if i % 5 else "grace")
              for i in range(30)]
    with AnalysisWriter(out, video_fps=FPS, frame_size=(96, 64)) as writer:
        for frame in frames:
            writer.add(frame, picture(frame.index))
        summary = writer.finish(seconds=2.0, extra={"source": "test clip"})

    lines = (out / "frames.jsonl").read_text().splitlines()
    assert len(lines) == 30
    first = json.loads(lines[0])
    assert set(first) == {"frame", "time", "faces"}
    assert first["frame"] == 0 and first["time"] == 0.0
    assert set(first["faces"][0]) == {"box", "track", "label", "score", "best"}
    assert first["faces"][0]["label"] == "ada" and first["faces"][1]["label"] == "grace"
    assert " " not in lines[3], "lines are compact"

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == summary
    assert summary["frames"] == 30
    assert summary["seconds"] == 2.0
    assert summary["fps"] == pytest.approx(15.0)
    assert summary["video_fps"] == FPS
    assert summary["source"] == "test clip"
    assert summary["labels"]["ada"] == [[0.0, 1.2]]
    assert summary["labels"]["grace"] == [[0.0, 0.1], [0.5, 0.6], [1.0, 1.1], [1.5, 1.6],
                                          [2.0, 2.1], [2.5, 2.6]]

    with open_source(out / "annotated.mp4") as video:
        assert video.size == (96, 64)
        assert video.fps == pytest.approx(FPS)
        decoded = list(video)
    assert len(decoded) == 30
    # The frames are in order: the coloured band widens by 7 px a frame.
    widths = [int((f.image[32, :, 0] > 100).sum()) for f in decoded[:10]]
    assert widths == pytest.approx([7 * i for i in range(10)], abs=3)


def test_lines_are_on_disk_before_finish_and_summary_only_after(tmp_path: Path) -> None:
    with AnalysisWriter(tmp_path, video_fps=None, frame_size=None, write_video=False) as writer:
        for i in range(3):
            writer.add(result(i, "ada"))
            # Another process reading now sees every frame added so far.
            assert len((tmp_path / "frames.jsonl").read_text().splitlines()) == i + 1
        assert not (tmp_path / "summary.json").exists()
        writer.finish(seconds=1.0)
    assert (tmp_path / "summary.json").exists()
    assert not (tmp_path / "annotated.mp4").exists()


def test_a_crash_midway_leaves_valid_lines_and_no_summary(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with AnalysisWriter(tmp_path, video_fps=FPS, frame_size=(96, 64)) as writer:
            for i in range(5):
                writer.add(result(i, "ada"), picture(i))
            raise RuntimeError("boom")

    lines = (tmp_path / "frames.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == [0, 1, 2, 3, 4]
    assert not (tmp_path / "summary.json").exists()


def test_summary_from_an_earlier_run_is_removed_at_start(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text('{"frames": 999}')
    writer = AnalysisWriter(tmp_path, video_fps=FPS, frame_size=None, write_video=False)
    assert not (tmp_path / "summary.json").exists()
    writer.close()


def test_summary_is_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = AnalysisWriter(tmp_path, video_fps=FPS, frame_size=None, write_video=False)
    writer.add(result(0, "ada"))
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        # At the moment of the rename the new summary is complete in the temporary file.
        assert json.loads(Path(src).read_text())["frames"] == 1
        replaced.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    writer.finish(seconds=0.5)
    assert replaced == [("summary.json.tmp", "summary.json")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.jsonl", "summary.json"]


def test_failed_summary_write_leaves_no_partial_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    writer = AnalysisWriter(tmp_path, video_fps=FPS, frame_size=None, write_video=False)
    writer.add(result(0, "ada"))

    def fail(src: str | Path, dst: str | Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OutputError, match="No space left"):
        writer.finish(seconds=0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.jsonl"]


def test_frames_out_of_order_are_refused(tmp_path: Path) -> None:
    with AnalysisWriter(tmp_path, video_fps=FPS, frame_size=None, write_video=False) as writer:
        writer.add(result(4))
        with pytest.raises(ValueError, match="in order"):
            writer.add(result(4))
        with pytest.raises(ValueError, match="in order"):
            writer.add(result(2))


def test_frames_that_change_size_still_make_one_video(tmp_path: Path) -> None:
    with AnalysisWriter(tmp_path, video_fps=FPS, frame_size=(96, 64)) as writer:
        writer.add(result(0), picture(0))
        writer.add(result(1), picture(1, size=(128, 96)))
        writer.finish(seconds=0.1)
    with open_source(tmp_path / "annotated.mp4") as video:
        assert video.size == (96, 64)
        assert len(list(video)) == 2


def test_output_folder_that_cannot_be_made_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    with pytest.raises(OutputError, match="cannot write results"):
        AnalysisWriter(blocker / "run", video_fps=FPS, frame_size=None)


def test_unknown_rate_uses_median_interval_for_interval_ends(tmp_path: Path) -> None:
    with AnalysisWriter(tmp_path, video_fps=None, frame_size=None, write_video=False) as writer:
        for i in range(4):
            writer.add(result(i, "ada", fps=4.0))
        summary = writer.finish(seconds=1.0)
    assert summary["video_fps"] is None
    assert summary["labels"] == {"ada": [[0.0, 1.0]]}
