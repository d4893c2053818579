"""Frame sources: what each kind of input yields, and how each kind of bad input fails."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from livesiam.capture import LiveSource, natural_key, open_source, realtime
from livesiam.config import CaptureOptions
from livesiam.errors import InputError, SourceError
from livesiam.results import Frame

RED_BGR = (0, 0, 255)
BLUE_BGR = (255, 0, 0)


def write_video(path: Path, colours_bgr: list[tuple[int, int, int]], fps: float = 12.0,
                size: tuple[int, int] = (64, 48)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened(), "this OpenCV build cannot write mp4v"
    for colour in colours_bgr:
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[:] = colour
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def red_then_blue(tmp_path: Path) -> Path:
    """12 frames at 12 fps: six red, then six blue."""
    return write_video(tmp_path / "clip.mp4", [RED_BGR] * 6 + [BLUE_BGR] * 6)


# --- folders of images ---------------------------------------------------------------------

def test_natural_key_orders_numbers_by_value() -> None:
    names = ["img10.png", "img2.png", "IMG1.png", "img9.png"]
    assert sorted(names, key=natural_key) == ["IMG1.png", "img2.png", "img9.png", "img10.png"]


def test_folder_reads_images_in_natural_order_at_folder_fps(tmp_path: Path) -> None:
    for number in (10, 2, 1, 9):
        image = np.full((30, 40, 3), number * 20, np.uint8)
        image[0, 0] = RED_BGR
        cv2.imwrite(str(tmp_path / f"frame{number}.png"), image)
    (tmp_path / "notes.txt").write_text("not a frame")

    with open_source(tmp_path, CaptureOptions(folder_fps=10.0)) as source:
        frames = list(source)
        assert source.frame_count == 4
        assert source.size == (40, 30)
        assert source.fps == 10.0
        assert not source.live

    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.time for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert [int(f.image[5, 5, 0]) for f in frames] == [20, 40, 180, 200]
    # Red written as BGR by OpenCV comes back red in RGB.
    assert tuple(frames[0].image[0, 0]) == (255, 0, 0)


def test_folder_skips_unreadable_image_and_keeps_positions(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for number in (1, 2, 4):
        cv2.imwrite(str(tmp_path / f"{number:04d}.jpg"), np.full((20, 20, 3), 128, np.uint8))
    (tmp_path / "0003.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")

    with caplog.at_level(logging.WARNING, logger="livesiam.capture"):
        frames = list(open_source(str(tmp_path), CaptureOptions(folder_fps=4.0)))

    assert [f.index for f in frames] == [0, 1, 3]
    assert frames[-1].time == pytest.approx(0.75)
    assert "0003.jpg" in caplog.text


def test_empty_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no images"):
        open_source(tmp_path)


def test_folder_with_only_other_files_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(InputError, match="holds no images"):
        open_source(tmp_path)


# --- video files ---------------------------------------------------------------------------

def test_video_file_gives_every_frame_with_container_times_in_rgb(red_then_blue: Path) -> None:
    with open_source(red_then_blue) as source:
        assert source.fps == pytest.approx(12.0)
        assert source.size == (64, 48)
        assert source.frame_count == 12
        assert not source.live
        assert source.name == "clip.mp4"
        frames = list(source)

    assert [f.index for f in frames] == list(range(12))
    assert [f.time for f in frames] == pytest.approx([i / 12 for i in range(12)], abs=1e-3)
    assert all(f.image.dtype == np.uint8 and f.image.shape == (48, 64, 3) for f in frames)
    red, blue = frames[2].image[24, 32], frames[9].image[24, 32]
    assert red[0] > 200 and red[1] < 40 and red[2] < 40
    assert blue[2] > 200 and blue[0] < 40 and blue[1] < 40


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_source(tmp_path / "nothing.mp4")


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    # FFmpeg would happily "play" a text file as ANSI art; it must be refused.
    path = tmp_path / "notes.mp4"
    path.write_text("these are notes, not a film\n" * 50)
    with pytest.raises(InputError, match="not a video"):
        open_source(path)


def test_binary_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    with pytest.raises(InputError):
        open_source(path)


def test_truncated_video_is_refused(tmp_path: Path, red_then_blue: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(red_then_blue.read_bytes()[:200])
    with pytest.raises(InputError):
        open_source(path)


def test_still_image_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError, match="still image"):
        open_source(path)


# --- cameras and streams -------------------------------------------------------------------

def test_camera_that_does_not_exist_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="camera 97"):
        open_source("97")


def test_unreachable_stream_fails_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match="rtsp://127.0.0.1:9/"):
        open_source("rtsp://127.0.0.1:9/live", CaptureOptions(timeout=1.0))
    assert time.monotonic() - started < 3.0


def test_silent_stream_times_out() -> None:
    # A loopback server that accepts the connection and never answers.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    port = server.getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(SourceError, match="within 0.5 s"):
            open_source(f"http://127.0.0.1:{port}/video.mp4", CaptureOptions(timeout=0.5))
        assert time.monotonic() - started < 3.0
    finally:
        for conn in accepted:
            conn.close()
        server.close()


def test_stream_url_hides_password_in_messages() -> None:
    with pytest.raises(SourceError) as caught:
        open_source("rtsp://admin:secret@127.0.0.1:9/live", CaptureOptions(timeout=0.5))
    assert "secret" not in str(caught.value)
    assert "admin:***@" in str(caught.value)


def test_file_url_is_read_as_a_live_stream(red_then_blue: Path) -> None:
    with open_source(red_then_blue.as_uri()) as source:
        assert source.live
        assert source.size == (64, 48)
        frames = list(source)

    # A live source hands out the newest frame, so frames may be skipped (even the first ones
    # when the machine is busy), never repeated, and each keeps the index it was read with.
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices)) and indices[-1] <= 11
    assert frames[0].time >= 0.0
    assert all(b.time >= a.time for a, b in zip(frames, frames[1:]))
    for frame in frames:
        red, blue = frame.image[24, 32, 0], frame.image[24, 32, 2]
        assert (red > 200 and blue < 40) if frame.index < 6 else (blue > 200 and red < 40)


class FakeCapture:
    """Stands in for cv2.VideoCapture: gives a numbered frame each time ``permits`` allows."""

    def __init__(self, frames: int | None = None) -> None:
        self.frames = frames
        self.calls = 0
        self.permits = threading.Semaphore(0)
        self.released = False

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.calls += 1
        self.permits.acquire()
        number = self.calls - 1
        if self.frames is not None and number >= self.frames:
            return False, None
        return True, np.full((8, 8, 3), number, np.uint8)

    def get(self, prop: int) -> float:
        return 25.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.released = True

    def wait_for_calls(self, calls: int) -> None:
        deadline = time.monotonic() + 5.0
        while self.calls < calls:
            assert time.monotonic() < deadline, "reader thread did not come back"
            time.sleep(0.005)


def test_live_source_without_a_frame_times_out() -> None:
    capture = FakeCapture()
    # The driver answers only after the source gave up, as a hung device might.
    threading.Timer(0.3, capture.permits.release, args=(5,)).start()
    started = time.monotonic()
    with pytest.raises(SourceError, match="no frame within 0.2 s"):
        LiveSource(capture, "camera 0", timeout=0.2, ends_normally=False)
    assert time.monotonic() - started < 2.0


def test_live_source_hands_out_the_newest_frame_and_skips_stale_ones() -> None:
    capture = FakeCapture()
    capture.permits.release(1)
    source = LiveSource(capture, "camera 0", timeout=2.0, ends_normally=False)
    assert source.fps == 25.0
    first = source.read()
    assert first is not None and first.index == 0

    # Three frames arrive while the caller is busy; the next call to read() sees the fourth
    # read() of the driver under way, so all three have been stored by then.
    capture.permits.release(3)
    capture.wait_for_calls(5)
    newest = source.read()
    assert newest is not None and newest.index == 3
    assert int(newest.image[0, 0, 0]) == 3

    capture.permits.release(100)
    source.close()
    assert source.read() is None
    assert capture.released


def test_camera_that_stops_giving_frames_is_a_source_error() -> None:
    capture = FakeCapture(frames=1)
    capture.permits.release(5)
    source = LiveSource(capture, "camera 0", timeout=2.0, ends_normally=False)
    assert source.read() is not None
    with pytest.raises(SourceError, match="stopped giving frames"):
        source.read()
    assert capture.released


def test_stream_that_ends_just_ends() -> None:
    capture = FakeCapture(frames=1)
    capture.permits.release(5)
    with LiveSource(capture, "rtsp://host/x", timeout=2.0, ends_normally=True) as source:
        assert [f.index for f in source] == [0]


# --- real-time playback of recorded frames -------------------------------------------------

class FakeClock:
    """A clock that moves only when told to, with a sleep() that advances it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def frames_at(fps: float, count: int) -> list[Frame]:
    image = np.zeros((2, 2, 3), np.uint8)
    return [Frame(index=i, time=i / fps, image=image) for i in range(count)]


def test_realtime_with_a_fast_caller_drops_nothing_and_waits_for_each_frame() -> None:
    clock = FakeClock()
    shown = []
    for frame in realtime(frames_at(10.0, 20), fps=10.0, clock=clock, sleep=clock.sleep):
        shown.append((frame.index, clock.now - 100.0))

    assert [index for index, _ in shown] == list(range(20))
    # Each frame is handed out exactly when due: never early, never later than needed.
    assert [at for _, at in shown] == pytest.approx([i / 10 for i in range(20)])
    assert sum(clock.sleeps) == pytest.approx(1.9)


def test_realtime_with_a_slow_caller_drops_frames_like_a_camera() -> None:
    clock = FakeClock()
    shown = []
    for frame in realtime(frames_at(10.0, 20), fps=10.0, clock=clock, sleep=clock.sleep):
        shown.append(frame.index)
        clock.now += 0.23   # processing takes 2.3 frame periods

    # A frame is shown when no newer one is due yet: at 0.23 s frame 2 (due 0.2), at 0.92 s
    # frame 9 (due 0.9) because frame 8 (due 0.8) had already been replaced.
    assert shown == [0, 2, 4, 6, 9, 11, 13, 16, 18]
    assert clock.sleeps == []


def test_realtime_never_hands_out_a_frame_that_a_newer_one_replaced() -> None:
    clock = FakeClock()
    period = 1 / 25
    for step, frame in enumerate(realtime(frames_at(25.0, 100), clock=clock, sleep=clock.sleep)):
        lateness = clock.now - 100.0 - frame.time
        assert -1e-9 <= lateness < period
        clock.now += 0.01 if step % 2 else 0.13   # alternately fast and slow


def test_realtime_uses_the_frame_interval_when_the_rate_is_unknown() -> None:
    clock = FakeClock()
    shown = []
    for frame in realtime(frames_at(5.0, 10), clock=clock, sleep=clock.sleep):
        shown.append(frame.index)
        clock.now += 0.47   # a little over two periods of 0.2 s
    assert shown == [0, 2, 4, 7, 9]


def test_realtime_passes_live_sources_through() -> None:
    class Live(list):
        live = True

    clock = FakeClock()
    frames = Live(frames_at(10.0, 5))
    shown = []
    for frame in realtime(frames, clock=clock, sleep=clock.sleep):
        shown.append(frame.index)
        clock.now += 1.0
    assert shown == [0, 1, 2, 3, 4] and clock.sleeps == []


def test_realtime_on_a_video_file_drops_when_slow(red_then_blue: Path) -> None:
    clock = FakeClock()
    with open_source(red_then_blue) as source:
        shown = []
        for frame in realtime(source, clock=clock, sleep=clock.sleep):
            shown.append(frame.index)
            clock.now += 0.2   # 2.4 periods at 12 fps
    assert shown[0] == 0 and len(shown) < 12 and shown == sorted(shown)
    assert shown[-1] >= 9


# --- real footage --------------------------------------------------------------------------

def test_hamilton_clip_gives_275_frames_at_its_own_times(shared_data: Path) -> None:
    path = shared_data / "videos" / "hamilton" / "short_hamilton_clip.mp4"
    with open_source(str(path)) as source:
        assert source.fps == pytest.approx(29.97, abs=0.01)
        assert source.size == (640, 360)
        assert source.frame_count == 275
        frames = [(f.index, f.time, f.image.shape) for f in source]

    assert len(frames) == 275
    assert [index for index, _, _ in frames] == list(range(275))
    times = np.array([t for _, t, _ in frames])
    assert np.abs(times - np.arange(275) / 29.97).max() < 0.002
    assert all(shape == (360, 640, 3) for _, _, shape in frames)


def test_otb_girl_folder_is_a_500_frame_source(shared_data: Path) -> None:
    folder = shared_data / "videos" / "otb-girl" / "img"
    with open_source(folder, CaptureOptions(folder_fps=25.0)) as source:
        assert source.frame_count == 500
        assert source.size == (128, 96)
        frames = list(source)
    assert len(frames) == 500
    assert frames[0].index == 0 and frames[-1].index == 499
    assert frames[-1].time == pytest.approx(499 / 25.0)
    first = cv2.cvtColor(cv2.imread(str(folder / "0001.jpg")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(frames[0].image, first)
