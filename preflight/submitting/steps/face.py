"""The face step of an advanced lip-sync (``hosted``, or ``rejected``): identify-face, pick one
face, plan and judge the sound window, all before the paid create.

identify-face is free and its session lasts 24 h, so it runs again on every run that has no task
yet. The faces and the chosen one are reported as a ``face`` event (``-f json`` prints them); the
choice is kept in the ledger row's ``options`` (``advanced_face``: session, face, span, window).
A face index out of range or an unknown face id is a usage error; a window the provider would
refuse (`preflight.submitting.faces.window_problem`) rejects the job, naming the face's span.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from preflight.model.errors import ConfigError, InvalidRequestError, UsageError
from preflight.submitting.advanced import AdvancedKling
from preflight.submitting.faces import FaceSpan, SoundWindow, pick_face, plan_window, window_problem
from preflight.submitting.ledger import JobRecord, JobStatus, Lease
from preflight.submitting.model import JobResult, Outcome, SubmitRequest, is_url
from preflight.submitting.providers import Media, Provider
from preflight.submitting.steps.base import StepBase

__all__ = ["Choosing"]


class Choosing(StepBase):
    """identify-face, the face, the window."""

    def _choose_face(
        self,
        request: SubmitRequest,
        provider: Provider,
        record: JobRecord,
        lease: Lease,
        media: Mapping[str, Media],
    ) -> SubmitRequest | JobResult:
        """The request with its face and window resolved, or how the job ended short of that."""
        job = record.job_id
        choice = request.advanced
        if choice is None or not isinstance(provider, AdvancedKling):
            raise ConfigError(f"{provider.name} was not set up for advanced lip-sync (a bug)")
        video_url = media["video"].url
        assert video_url is not None  # Kling fetches the video by URL: the host step gave one
        self.emit("face", "start", "identify-face: looking for the faces in the video", job)
        try:
            session = provider.identify(video_url)
        except InvalidRequestError as exc:
            return self._refuse(request, lease, job, f"identify-face refused the video: {exc}")
        try:
            face, why = pick_face(session.faces, choice)
        except UsageError as exc:
            self.ledger.update(lease, status=JobStatus.REJECTED, error=str(exc))
            self.emit("face", "fail", str(exc), job, **_faces_data(session.faces, None))
            raise
        audio_ms, video_ms = self._durations(request, job)
        window = plan_window(choice, face, audio_ms=audio_ms, video_ms=video_ms)
        self.emit(
            "face",
            "done",
            f"{_listing(session.faces)}; lip-syncing face {face.face_id} ({why}), {window.text()}",
            job,
            session_id=session.session_id,
            **_faces_data(session.faces, face),
            window=_window_data(window),
        )
        problem = window_problem(window, face, audio_ms=audio_ms, video_ms=video_ms)
        if problem is not None:
            return self._refuse(request, lease, job, problem)
        kept = {
            "session_id": session.session_id,
            **face.to_dict(),
            **_window_data(window),
            "why": why,
        }
        self.ledger.update(lease, options={**self.ledger.get(job).options, "advanced_face": kept})
        resolved = choice.resolved(session.session_id, face, window)
        return dataclasses.replace(request, advanced=resolved)

    def _refuse(self, request: SubmitRequest, lease: Lease, job: str, reason: str) -> JobResult:
        self.ledger.update(lease, status=JobStatus.REJECTED, error=reason)
        self.emit("face", "fail", reason, job)
        return self._result(request, self.ledger.get(job), Outcome.REJECTED, reason=reason)

    def _durations(self, request: SubmitRequest, job: str) -> tuple[int, int]:
        """The audio's and the video's length in ms, of what is sent (a fixed file when the
        check step fixed one), from the same probe the check used."""
        from preflight.probing import probe

        record = self.ledger.get(job)
        lengths: list[int] = []
        for role in ("audio", "video"):
            source = record.fixed.get(role) or getattr(request, role)
            assert source is not None
            if is_url(source):  # the local copy the check step made of a URL it could not probe
                copies = sorted((self.work_dir / job).glob(f"{role}-source.*"))
                source = str(copies[0]) if copies else source
            facts = probe(source)
            lengths.append(round((facts.effective_duration or 0.0) * 1000))
        return lengths[0], lengths[1]


def _listing(faces: tuple[FaceSpan, ...]) -> str:
    spans = ", ".join(f"face {f.face_id} {f.span_text()}" for f in faces)
    return f"{len(faces)} face{'s' if len(faces) != 1 else ''} ({spans})"


def _faces_data(faces: tuple[FaceSpan, ...], chosen: FaceSpan | None) -> dict[str, Any]:
    return {
        "faces": [f.to_dict() for f in faces],
        "chosen": chosen.to_dict() if chosen is not None else None,
    }


def _window_data(window: SoundWindow) -> dict[str, int]:
    return {
        "sound_start_time": window.start_ms,
        "sound_end_time": window.end_ms,
        "sound_insert_time": window.insert_ms,
    }
