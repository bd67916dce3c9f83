"""The product around the transcode core: jobs, screeners and packages through the
services, pages, API and CLI, on tiny media.

``media`` here is both the catalog's dict of sample files (``media["video"]``, the
poster the title factory stores) and the core tests' recipe book (``media("noaudio")``):
the parent conftest's ``media`` makes broken sources, the catalog factories need the
dict.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from marketplace.extensions import db

_FF = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]


class Media(dict):
    """Named sample files; calling it makes a core recipe (``media("vfr")``)."""

    def __init__(self, recipes: Callable[[str], str], files: dict[str, Path]):
        super().__init__(files)
        self._recipes = recipes

    def __call__(self, name: str) -> str:
        return self._recipes(name)


@pytest.fixture(scope="session")
def media(media, tmp_path_factory) -> Media:
    base = tmp_path_factory.mktemp("tc-app-media")
    video = base / "clip.mp4"
    subprocess.run(_FF + ["-f", "lavfi", "-i", "testsrc2=s=180x320:d=1:r=15", "-f", "lavfi", "-i",
                          "sine=frequency=440:duration=1", "-ac", "2", "-shortest",
                          "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                          "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", str(video)],
                   check=True)
    poster = base / "poster.png"
    subprocess.run(_FF + ["-f", "lavfi", "-i", "testsrc2=s=90x160", "-frames:v", "1", str(poster)],
                   check=True)
    return Media(media, {"video": video, "poster": poster})


@pytest.fixture
def run_jobs(jobs):
    """Run every captured job (and the jobs those enqueue) in-process; fresh reads after."""

    def run():
        results = jobs.run_all()
        db.session.expire_all()
        return results

    return run
