"""Frame sources: cameras, video files, network streams and folders of images.

Every source yields `Frame` objects with an RGB image, an index that counts every frame read
from the source, and a time in seconds. A recorded source (a file or a folder) takes its times
from the recording, so analysing it gives the same times however fast the machine is; a live
source (a camera or a stream) takes them from the wall clock.

>>> with open_source("clip.mp4") as source:  # doctest: +SKIP
...     for frame in realtime(source):
...         show(frame.image)
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from .config import CaptureOptions
from .errors import InputError, SourceError
from .images import IMAGE_SUFFIXES, is_image_file, load_image
from .results import Frame

log = logging.getLogger(__name__)

FALLBACK_FPS = 30.0
"""Frame rate assumed for a file whose container states none, to give its frames times."""

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CREDENTIALS = re.compile(r"(://[^/@:]*):[^/@]*@")
# How long close() waits for a live reader stuck inside the driver before leaving it behind.
_JOIN_TIMEOUT_S = 1.0


def natural_key(name: str) -> list[int | str]:
    """Sort key that orders embedded numbers by value, so "img2" comes before "img10"."""
    return [int(part) if part.isdecimal() else part.lower() for part in re.split(r"(\d+)", name)]


def _redact(url: str) -> str:
    """The URL without its password, for names and messages that end up in logs."""
    return _CREDENTIALS.sub(r"\1:***@", url)


def _positive(value: float) -> float | None:
    """A capture property as a number, or None for the 0, -1 or NaN that mean "unknown"."""
    return float(value) if np.isfinite(value) and value > 0 else None


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _looks_like_text(path: Path) -> bool:
    # FFmpeg renders any text file as an "ANSI art" video, so a script or a CSV passed by
    # mistake would otherwise open and play as a few frames of coloured characters.
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3
    return True


def _fourcc(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    if code <= 0:
        return ""
    return bytes((code >> (8 * i)) & 0xFF for i in range(4)).decode("latin-1").strip("\0 ")


class FrameSource:
    """Frames from one source, in reading order.

    ``fps`` is the source's frame rate (None when unknown), ``size`` the (width, height) of its
    first frame, ``frame_count`` the number of frames when known in advance (a container's
    count can be an estimate), ``live`` whether frames come in real time (a camera or a
    stream), ``name`` a short description for messages. A source is read once; use it as a
    context manager or call close() to free the device or file.
    """

    name: str = ""
    live: bool = False
    fps: float | None = None
    size: tuple[int, int] | None = None
    frame_count: int | None = None

    def read(self) -> Frame | None:
        """The next frame, or None at the end of the source."""
        raise NotImplementedError

    def close(self) -> None:
        """Free the file or device. Reading after close gives no more frames."""

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, fps={self.fps}, size={self.size}, "
                f"frames={self.frame_count})")


class VideoFileSource(FrameSource):
    """A recorded video file; frame times come from the container's timestamps."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.path = path
        self._index = 0
        self._last_time = -1.0

        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise InputError(f"{path}: is a still image, not a video; pass the folder that "
                             "holds it to read a sequence of images")
        if _looks_like_text(path):
            raise InputError(f"{path}: is a text file, not a video; pass a video file, "
                             "a folder of images, a camera index or a stream URL")
        self._capture: cv2.VideoCapture | None = cv2.VideoCapture(str(path))
        if not self._capture.isOpened() or _fourcc(self._capture) == "ansi":
            self.close()
            raise InputError(f"{path}: not a video OpenCV can decode; convert it to MP4 "
                             "(H.264) or pass a folder of images")

        self.fps = _positive(self._capture.get(cv2.CAP_PROP_FPS))
        count = _positive(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = int(count) if count is not None else None

        # Decode the first frame now, so a file that opens but holds no pictures fails here
        # with a clear message rather than later as an empty result.
        self._pending = self._decode()
        if self._pending is None:
            self.close()
            raise InputError(f"{path}: holds no readable video frames; the file may be "
                             "truncated or have no video track")
        height, width = self._pending.image.shape[:2]
        self.size = (width, height)

    def _decode(self) -> Frame | None:
        if self._capture is None:
            return None
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None

        period = 1.0 / (self.fps or FALLBACK_FPS)
        seconds = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        # Some containers give 0 for every frame, or timestamps that jump back at an edit;
        # the frame's position at the stated rate is then the best estimate, and times never
        # run backwards so that anything downstream may rely on their order.
        if not np.isfinite(seconds) or (self._index > 0 and seconds <= 0.0) \
                or seconds < self._last_time:
            seconds = max(self._index * period, self._last_time)
        self._last_time = seconds

        frame = Frame(index=self._index, time=seconds, image=_to_rgb(bgr))
        self._index += 1
        return frame

    def read(self) -> Frame | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        frame = self._decode()
        if frame is None and self._capture is not None:
            if self.frame_count is not None and self._index < self.frame_count - 1:
                log.warning("%s: stopped after %d of %d frames; the rest could not be decoded",
                            self.name, self._index, self.frame_count)
            self.close()
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class FolderSource(FrameSource):
    """A folder of still images in natural name order, at ``folder_fps`` frames per second.

    An image that cannot be read is skipped with a warning; its index is not reused, so
    indices keep matching positions in the folder (and any per-image annotations).
    """

    def __init__(self, path: Path, fps: float) -> None:
        if fps <= 0:
            raise InputError(f"folder frame rate must be positive, got {fps}")
        self.name = path.name or str(path)
        self.path = path
        self.fps = float(fps)
        self.files = sorted((p for p in path.iterdir() if is_image_file(p)),
                            key=lambda p: (natural_key(p.name), p.name))
        if not self.files:
            raise InputError(f"{path}: holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                             "pass a folder of frames, a video file, a camera index or a URL")
        self.frame_count = len(self.files)
        self._index = 0

        self._pending = self._load_next()
        if self._pending is None:
            raise InputError(f"{path}: none of its {len(self.files)} images can be read")
        height, width = self._pending.image.shape[:2]
        self.size = (width, height)

    def _load_next(self) -> Frame | None:
        while self._index < len(self.files):
            index, path = self._index, self.files[self._index]
            self._index += 1
            try:
                image = load_image(path)
            except InputError as exc:
                log.warning("skipping %s", exc)
                continue
            return Frame(index=index, time=index / self.fps, image=image)
        return None

    def read(self) -> Frame | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        return self._load_next()

    def close(self) -> None:
        self._index = len(self.files)
        self._pending = None


class LiveSource(FrameSource):
    """A camera or a network stream, read on a background thread.

    The thread reads every frame the device delivers and keeps only the newest, so a caller
    that is slower than the device always gets the current picture instead of falling
    further behind through the driver's buffer. Frames replaced before they were taken are
    dropped; their indices are skipped, which tells the caller how many it missed. Times are
    wall-clock seconds since the first frame arrived.
    """

    live = True

    def __init__(self, capture: cv2.VideoCapture, name: str, timeout: float,
                 ends_normally: bool) -> None:
        self.name = name
        self.timeout = float(timeout)
        self.fps = _positive(capture.get(cv2.CAP_PROP_FPS))
        self._capture = capture
        # A stream may be a finite recording that simply ends; a camera never ends by itself,
        # so a failed read from one means it was unplugged or taken by another program.
        self._ends_normally = ends_normally

        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._latest: tuple[int, float, np.ndarray] | None = None
        self._ended = False
        self._start: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"capture {name}", daemon=True)
        self._thread.start()

        # Wait for the first frame here, so that a source that opens but sends nothing fails
        # at once instead of on the first iteration.
        try:
            first = self._take()
        except SourceError:
            self.close()
            raise
        if first is None:
            self.close()
            raise SourceError(f"{name}: opened but ended before giving a frame; check that it "
                              "is sending video")
        self._pending: Frame | None = first
        height, width = first.image.shape[:2]
        self.size = (width, height)

    def _run(self) -> None:
        index = 0
        try:
            while not self._stop.is_set():
                try:
                    ok, bgr = self._capture.read()
                except cv2.error as exc:
                    # The caller learns of the end through read(); the cause goes to the log.
                    log.warning("%s: read failed: %s", self.name, exc)
                    break
                arrived = time.monotonic()
                if not ok or bgr is None:
                    break
                with self._cond:
                    if self._start is None:
                        self._start = arrived
                    self._latest = (index, arrived - self._start, bgr)
                    self._cond.notify_all()
                index += 1
        finally:
            self._capture.release()
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _take(self) -> Frame | None:
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while self._latest is None and not self._ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SourceError(f"{self.name}: no frame within {self.timeout:g} s; check "
                                      "that the device or stream is sending video, or raise "
                                      "capture.timeout")
                self._cond.wait(remaining)
            if self._latest is None:
                return None
            (index, seconds, bgr), self._latest = self._latest, None
        return Frame(index=index, time=seconds, image=_to_rgb(bgr))

    def read(self) -> Frame | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        if self._stop.is_set():
            return None
        frame = self._take()
        if frame is None:
            self.close()
            if not self._ends_normally:
                raise SourceError(f"{self.name}: stopped giving frames; check that it is still "
                                  "connected and not in use by another program")
            log.info("%s: stream ended", self.name)
        return frame

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(_JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                # The driver is blocked inside a read; the thread releases the device as soon
                # as that read returns, and being a daemon it never holds the process open.
                log.warning("%s: still blocked in a read; it is released when the read returns",
                            self.name)


def _open_camera(index: int | str, options: CaptureOptions) -> LiveSource:
    name = f"camera {index}"
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"{name}: cannot be opened; check that it is connected, that this "
                          "user may use it and that no other program holds it")
    return LiveSource(capture, name, options.timeout, ends_normally=False)


def _open_stream(url: str, options: CaptureOptions) -> LiveSource:
    name = _redact(url)
    milliseconds = int(options.timeout * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, milliseconds,
              cv2.CAP_PROP_READ_TIMEOUT_MSEC, milliseconds]
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"{name}: cannot open the stream within {options.timeout:g} s; check "
                          "the address, the port and any user name and password in it, or "
                          "raise capture.timeout for a slow network")
    return LiveSource(capture, name, options.timeout, ends_normally=True)


def open_source(spec: str | int | Path, options: CaptureOptions | None = None) -> FrameSource:
    """Open a camera index ("0" or 0), a video file, a stream URL or a folder of images.

    Raises InputError for a path that is missing or is not a video or an image folder, and
    SourceError for a camera or stream that cannot be opened or gives no frame within
    ``options.timeout`` seconds.
    """
    options = options or CaptureOptions()

    if isinstance(spec, int) and not isinstance(spec, bool):
        return _open_camera(spec, options)
    text = str(spec).strip()
    if not text:
        raise InputError("no source given; pass a camera index, a video file, a folder of "
                         "images or a stream URL")
    if text.isdecimal():
        return _open_camera(int(text), options)
    if _URL.match(text):
        return _open_stream(text, options)

    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path, options.folder_fps)
    if path.is_char_device():
        # A device node such as /dev/video0 is a camera named by its path.
        return _open_camera(str(path), options)
    if path.is_file():
        return VideoFileSource(path)
    raise InputError(f"{path}: no such file or folder; pass a video file, a folder of images, "
                     "a camera index or a stream URL")


def realtime(frames: Iterable[Frame], fps: float | None = None,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> Iterator[Frame]:
    """Play recorded frames at their own pace, dropping those a live camera would have lost.

    Playback starts with the first frame. A frame is given out when its time is due: if the
    caller is ahead the generator sleeps until then, never longer. A frame is dropped when the
    frame after it is already due (the caller was too slow for it), so a slow caller sees the
    recording at real speed with gaps in the frame indices, like a camera. Live sources pass
    through unchanged: they drop frames themselves. ``fps`` defaults to the source's own;
    without either, the interval between the last two frames is used.
    """
    if getattr(frames, "live", False):
        yield from frames
        return
    fps = fps or getattr(frames, "fps", None)

    start: float | None = None
    origin = previous = 0.0
    interval = 1.0 / fps if fps else 1.0 / FALLBACK_FPS
    dropped = 0
    for frame in frames:
        if start is None:
            start, origin, previous = clock(), frame.time, frame.time
            yield frame
            continue

        if not fps and frame.time > previous:
            interval = frame.time - previous
        previous = frame.time
        due = frame.time - origin
        behind = clock() - start - due
        if behind >= interval:
            dropped += 1
            continue
        if behind < 0:
            sleep(-behind)
        yield frame
    if dropped:
        log.debug("realtime playback dropped %d frames", dropped)
