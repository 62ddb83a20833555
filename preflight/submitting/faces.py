"""Advanced lip-sync's choices: which face, and where the sound goes (pure values and rules).

Kling's advanced lip-sync runs in two calls: identify-face lists the faces of the video, each as
``face_id, face_image, start_time, end_time`` (ms); the create lip-syncs one of them with a cut of
the audio (``sound_start_time`` .. ``sound_end_time``) placed at ``sound_insert_time`` of the
video. The provider refuses a window that does not overlap the face's time on screen by at least
2 s or that runs past the end of the video; both are checked here before anything is paid.

**The default face** is the one on screen longest (``end_time - start_time``; ties go to the
earlier-listed face). "Largest" could also mean the face image's pixel size, but Kling does not
document how it crops ``face_image`` (so its size need not follow the face's), reading it costs a
download per face, and the time span is what the 2 s overlap rule is judged against: the longest
face is the one most sound windows fit.

**The default window** is the whole audio from ``--sound-start`` (0), cut where the video
ends, inserted at the chosen face's ``start_time``, moved earlier when it would otherwise run
past the video's end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from preflight.model.errors import UsageError

__all__ = [
    "MIN_OVERLAP_MS",
    "AdvancedLipSync",
    "FaceSpan",
    "SoundWindow",
    "pick_face",
    "plan_window",
    "window_problem",
]

MIN_OVERLAP_MS = 2000  # KL-EN: the inserted audio overlaps the face's window by at least 2 s
END_SLACK_MS = 50  # a duration read from a container may differ from the provider's by a frame
VOLUME_RANGE = (0.0, 2.0)


@dataclass(frozen=True, slots=True)
class FaceSpan:
    """One face as identify-face reports it (times in ms)."""

    face_id: str
    start_ms: int
    end_ms: int
    image: str | None = None

    @property
    def length_ms(self) -> int:
        return max(0, self.end_ms - self.start_ms)

    def span_text(self) -> str:
        return f"{self.start_ms / 1000:.1f}-{self.end_ms / 1000:.1f} s"

    def to_dict(self) -> dict[str, Any]:
        return {
            "face_id": self.face_id,
            "face_image": self.image,
            "start_time": self.start_ms,
            "end_time": self.end_ms,
        }


@dataclass(frozen=True, slots=True)
class SoundWindow:
    """The cut of the audio (``start_ms`` .. ``end_ms``) and where it goes in the video."""

    start_ms: int
    end_ms: int
    insert_ms: int

    @property
    def length_ms(self) -> int:
        return self.end_ms - self.start_ms

    def text(self) -> str:
        return (
            f"audio {self.start_ms / 1000:.1f}-{self.end_ms / 1000:.1f} s inserted at "
            f"{self.insert_ms / 1000:.1f} s"
        )


@dataclass(frozen=True, slots=True)
class AdvancedLipSync:
    """What `preflight submit --advanced` asks for. ``face_index`` (0-based, in identify-face's
    order) or ``face_id``, else the face on screen longest; sound times in ms (None: the default
    window, see the module docstring); volumes 0-2 (None: the provider's default, 1)."""

    face_index: int | None = None
    face_id: str | None = None
    sound_start: int | None = None
    sound_end: int | None = None
    sound_insert: int | None = None
    sound_volume: float | None = None
    original_audio_volume: float | None = None
    session_id: str | None = None  # set by the face step with the face and window it resolved

    def validate(self) -> None:
        """UsageError for options that cannot be right whatever the video holds."""
        if self.face_index is not None and self.face_id is not None:
            raise UsageError("give --face-index or --face-id, not both")
        if self.face_index is not None and self.face_index < 0:
            raise UsageError(f"--face-index must be 0 or more, not {self.face_index}")
        for name, value in (
            ("--sound-start", self.sound_start),
            ("--sound-end", self.sound_end),
            ("--sound-insert", self.sound_insert),
        ):
            if value is not None and value < 0:
                raise UsageError(f"{name} is in milliseconds and must be 0 or more, not {value}")
        if (
            self.sound_start is not None
            and self.sound_end is not None
            and self.sound_end <= self.sound_start
        ):
            raise UsageError(
                f"--sound-end ({self.sound_end} ms) must be after --sound-start "
                f"({self.sound_start} ms)"
            )
        low, high = VOLUME_RANGE
        for name, volume in (
            ("--sound-volume", self.sound_volume),
            ("--original-audio-volume", self.original_audio_volume),
        ):
            if volume is not None and not low <= volume <= high:
                raise UsageError(f"{name} must be between {low:g} and {high:g}, not {volume:g}")

    def params(self) -> dict[str, Any]:
        """The choice as the job key sees it (None fields left out: the defaults)."""
        data = {
            "advanced": True,
            "face_index": self.face_index,
            "face_id": self.face_id,
            "sound_start_time": self.sound_start,
            "sound_end_time": self.sound_end,
            "sound_insert_time": self.sound_insert,
            "sound_volume": self.sound_volume,
            "original_audio_volume": self.original_audio_volume,
        }
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AdvancedLipSync | None:
        """The choice a ledger row's params recorded (None for a plain lip-sync row)."""
        if not params.get("advanced"):
            return None
        return cls(
            face_index=params.get("face_index"),
            face_id=params.get("face_id"),
            sound_start=params.get("sound_start_time"),
            sound_end=params.get("sound_end_time"),
            sound_insert=params.get("sound_insert_time"),
            sound_volume=params.get("sound_volume"),
            original_audio_volume=params.get("original_audio_volume"),
        )

    def resolved(self, session_id: str, face: FaceSpan, window: SoundWindow) -> AdvancedLipSync:
        """This choice with the session, the face and the window the create sends."""
        return replace(
            self,
            session_id=session_id,
            face_id=face.face_id,
            face_index=None,
            sound_start=window.start_ms,
            sound_end=window.end_ms,
            sound_insert=window.insert_ms,
        )


def pick_face(faces: Sequence[FaceSpan], choice: AdvancedLipSync) -> tuple[FaceSpan, str]:
    """The face to lip-sync and why; UsageError for an index out of range or an unknown id."""
    if not faces:
        raise UsageError("identify-face found no face in the video: nothing to lip-sync")
    listed = ", ".join(f"{f.face_id} ({f.span_text()})" for f in faces)
    if choice.face_index is not None:
        if choice.face_index >= len(faces):
            raise UsageError(
                f"--face-index {choice.face_index} is out of range: identify-face found "
                f"{len(faces)} face{'s' if len(faces) != 1 else ''} (index 0-{len(faces) - 1}): "
                f"{listed}"
            )
        return faces[choice.face_index], f"--face-index {choice.face_index}"
    if choice.face_id is not None:
        for face in faces:
            if face.face_id == choice.face_id:
                return face, f"--face-id {choice.face_id}"
        raise UsageError(
            f"--face-id {choice.face_id!r} is not a face of this video; identify-face found: "
            f"{listed}"
        )
    best = max(faces, key=lambda f: f.length_ms)  # max keeps the first of equals
    why = "the only face" if len(faces) == 1 else "on screen longest"
    return best, why


def plan_window(
    choice: AdvancedLipSync, face: FaceSpan, *, audio_ms: int, video_ms: int
) -> SoundWindow:
    """The sound window: what was given, the defaults (module docstring) for the rest."""
    start = choice.sound_start if choice.sound_start is not None else 0
    room = video_ms - (choice.sound_insert or 0)  # the video left after the insert point
    if choice.sound_end is not None:
        end = choice.sound_end
    else:
        end = max(start, min(audio_ms, start + room))
    if choice.sound_insert is not None:
        insert = choice.sound_insert
    else:
        insert = max(0, min(face.start_ms, video_ms - (end - start)))
    return SoundWindow(start, end, insert)


def window_problem(
    window: SoundWindow, face: FaceSpan, *, audio_ms: int, video_ms: int
) -> str | None:
    """Why the provider would refuse ``window`` for ``face`` (None: it fits)."""
    if window.end_ms > audio_ms + END_SLACK_MS:
        return (
            f"the sound window ends at {window.end_ms / 1000:.1f} s but the audio is "
            f"{audio_ms / 1000:.1f} s long"
        )
    if window.length_ms < MIN_OVERLAP_MS:
        return (
            f"the sound window ({window.text()}) is {window.length_ms / 1000:.1f} s; it must "
            f"overlap face {face.face_id} ({face.span_text()}) by at least "
            f"{MIN_OVERLAP_MS / 1000:.0f} s"
        )
    if window.insert_ms + window.length_ms > video_ms + END_SLACK_MS:
        return (
            f"the sound window ({window.text()}) runs to "
            f"{(window.insert_ms + window.length_ms) / 1000:.1f} s, past the end of the "
            f"{video_ms / 1000:.1f} s video"
        )
    overlap = min(window.insert_ms + window.length_ms, face.end_ms) - max(
        window.insert_ms, face.start_ms
    )
    if overlap < MIN_OVERLAP_MS:
        return (
            f"the sound window ({window.text()}) overlaps face {face.face_id}, on screen "
            f"{face.span_text()}, by {max(0, overlap) / 1000:.1f} s; it must overlap by at "
            f"least {MIN_OVERLAP_MS / 1000:.0f} s ({_fitting_inserts(window, face, video_ms)})"
        )
    return None


def _fitting_inserts(window: SoundWindow, face: FaceSpan, video_ms: int) -> str:
    """The --sound-insert values that would fit this cut, or what to change instead."""
    low = max(0, face.start_ms + MIN_OVERLAP_MS - window.length_ms)
    high = min(face.end_ms - MIN_OVERLAP_MS, video_ms - window.length_ms)
    if face.length_ms < MIN_OVERLAP_MS:
        return f"face {face.face_id} is on screen for less than that: choose another face"
    if low > high:
        return "no --sound-insert fits this cut: make it shorter with --sound-end"
    if low == high:
        return f"--sound-insert {low} fits"
    return f"--sound-insert from {low} to {high} ms fits"
