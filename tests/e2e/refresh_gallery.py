#!/usr/bin/env python3
"""Refresh the README's gallery from the screenshots of the gallery journey.

`make gallery` runs tests/e2e/test_gallery.py (which writes artifacts/e2e/gallery/
<role>-<page>-<size>.png), then this script: it copies the pictures into tests/e2e/gallery/
(reduced to 256 colours when Pillow is installed), removes pictures there that the journey no
longer takes, and rewrites the README's "Gallery" section with a table per role (one row per
page, one column per size). Run it on its own to reuse the last run's screenshots."""

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "artifacts" / "e2e" / "gallery"
TARGET = ROOT / "tests" / "e2e" / "gallery"
README = ROOT / "README.md"

ROLES = {
    "scheduler": "Scheduler",
    "nurse": "Nurse",
    "prescriber": "Prescriber",
    "administrator": "Administrator",
    "patient": "Patient",
}
PAGES = {
    "week": "Week view: chairs as columns for each day, sessions coloured by status",
    "day": "Day view: today's chairs hour by hour",
    "rides": "Rides home still to confirm in the next 48 hours",
    "board": "Observation board: a flagged SpO2 and its alert, an overdue check, what discharge waits for",
    "session-day": "Session day of a patient in observation, the current step first",
    "reviews": "Courses waiting for the prescriber's review",
    "course": "A course: its sessions by phase, paused for the prescriber's review",
    "trend": "The course's PHQ-9 trend against its baseline and the response line",
    "audit": "Audit trail: who saw or changed what",
    "compliance": "Compliance reports",
    "confirm": "The patient's confirmation link (no name, no drug)",
}
SIZES = {"desktop": "Desktop 1440×900", "tablet": "Tablet 1024×768", "phone": "Phone 390×844"}
NAME = re.compile(r"^(?P<role>[a-z]+)-(?P<page>[a-z-]+)-(?P<size>desktop|tablet|phone)\.png$")


def copy_pictures() -> dict[tuple[str, str], set[str]]:
    """Copy (and recompress) the screenshots; {(role, page): {size, ...}}."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover  (copied as they are)
        Image = None  # noqa: N806
    found: dict[tuple[str, str], set[str]] = {}
    TARGET.mkdir(parents=True, exist_ok=True)
    for path in sorted(SOURCE.glob("*.png")):
        match = NAME.match(path.name)
        if not match or match["role"] not in ROLES:
            continue
        found.setdefault((match["role"], match["page"]), set()).add(match["size"])
        if Image is None:
            shutil.copyfile(path, TARGET / path.name)
        else:
            with Image.open(path) as picture:
                # 256 colours without dithering: a page's flat colours and text stay crisp at a
                # third of the size.
                flat = picture.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
                flat.save(TARGET / path.name, optimize=True)
    for old in TARGET.glob("*.png"):
        match = NAME.match(old.name)
        if not match or (match["role"], match["page"]) not in found:
            old.unlink()
    return found


def gallery_section(found: dict[tuple[str, str], set[str]]) -> str:
    lines = [
        "## Gallery",
        "",
        "Each role's main pages on a busy afternoon (six chairs in use, a flagged reading, a booked",
        "week, a course with its PHQ-9 trend), at desktop, tablet and phone sizes. The browser",
        "journey `tests/e2e/test_gallery.py` takes them (it also checks that the board, the session",
        "day and the patient's link fit a tablet and a phone without sideways scrolling, and that the",
        "day view, rides, reviews, course and compliance pages fit them too: wide tables and the day",
        "grid scroll inside their own box);",
        "`make gallery` runs it and refreshes this section with `tests/e2e/refresh_gallery.py`.",
        "Every other browser journey saves a screenshot of each step under `artifacts/e2e/` (`make test`).",
        "",
    ]
    for role, title in ROLES.items():
        pages = [page for (r, page) in found if r == role]
        if not pages:
            continue
        pages.sort(key=lambda p: list(PAGES).index(p) if p in PAGES else len(PAGES))
        lines += [f"### {title}", "", "| | " + " | ".join(SIZES.values()) + " |", "|---|---|---|---|"]
        for page in pages:
            caption = PAGES.get(page, page.replace("-", " ").capitalize())
            cells = [
                f"![{caption}, {label.split()[0].lower()}](tests/e2e/gallery/{role}-{page}-{size}.png)"
                if size in found[(role, page)]
                else ""
                for size, label in SIZES.items()
            ]
            lines.append(f"| {caption} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def rewrite_readme(section: str) -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Gallery\n") + 1
    following = text.find("\n## ", start + 1)
    end = len(text) if following == -1 else following + 1
    tail = text[end:]
    README.write_text(text[:start] + section + ("\n" + tail if tail else ""), encoding="utf-8")


def main() -> int:
    if not SOURCE.is_dir() or not any(SOURCE.glob("*.png")):
        print(f"No screenshots in {SOURCE}: run `make gallery` (or the gallery journey) first.", file=sys.stderr)
        return 1
    found = copy_pictures()
    rewrite_readme(gallery_section(found))
    total = sum(p.stat().st_size for p in TARGET.glob("*.png"))
    print(f"{sum(len(s) for s in found.values())} pictures in {TARGET.relative_to(ROOT)} ({total // 1024} KB).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
