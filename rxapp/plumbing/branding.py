"""The force's branding as configuration: its name, crest, favicon and two colours, each checked before the
product starts (rxapp/plumbing/config.py reads the variables and calls these; the page frame in rxapp/ui/layout.py
shows them). Colours must leave text readable (WCAG 2.2 AA: a contrast of at least 4.5 to 1), and the images
must be files in the project's `assets/` folder, which is served as the site's root.

Standard library only: rxconfig.py loads the configuration before Reflex starts."""
from __future__ import annotations

import re
from pathlib import Path

from rxapp.plumbing.settings_reader import SettingsReader

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
MIN_CONTRAST = 4.5
MAX_NAME = 60
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ASSET_PATH = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\.[a-z]+$")
IMAGE_KINDS = {"FORCE_CREST": (".svg", ".png", ".webp"), "FORCE_FAVICON": (".svg", ".png", ".ico")}


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of a #rrggbb colour."""
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG's contrast ratio between two #rrggbb colours, from 1 to 21."""
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colour_against_white(name: str, purpose: str):
    """A parser for a colour that must stand `MIN_CONTRAST` against white; its ValueError names the variable."""
    def parse(raw: str) -> str:
        if not _COLOUR.match(raw):
            raise ValueError(f"{name} must be a colour written #rrggbb, e.g. #1d70b8")
        ratio = contrast(raw, "#ffffff")
        if ratio < MIN_CONTRAST:
            raise ValueError(f"{name} ({purpose}) has a contrast of {ratio:.1f} to 1 with white; it needs at least "
                             f"{MIN_CONTRAST} to 1 (WCAG 2.2 AA): choose a darker colour")
        return raw.lower()

    return parse


def force_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in raw):
        raise ValueError(f"FORCE_NAME must be the force's name on one line, 1 to {MAX_NAME} characters, "
                         "e.g. Cleveland Police")
    return name


def asset_image(name: str, assets: Path = ASSETS):
    """A parser for an image in `assets/`, given as its path there (e.g. branding/crest.svg)."""
    kinds = IMAGE_KINDS[name]

    def parse(raw: str) -> str:
        path = raw.strip().lstrip("/")
        if not _ASSET_PATH.match(path) or Path(path).suffix not in kinds:
            raise ValueError(f"{name} must be the path of an image in the assets/ folder ({', '.join(kinds)}), "
                             f"letters, digits, - and _ only, e.g. branding/{'crest' if 'CREST' in name else 'favicon'}"
                             f"{kinds[0]}")
        if not (assets / path).is_file():
            raise ValueError(f"{name} names a file that is not in the assets/ folder: add it there")
        return path

    return parse


def read_branding(r: SettingsReader) -> dict:
    """The branding variables that are set, each checked (problems go to `r`), as Settings' fields."""
    values = {"force_name": r.parsed("FORCE_NAME", force_name),
              "force_crest": r.parsed("FORCE_CREST", asset_image("FORCE_CREST")),
              "force_favicon": r.parsed("FORCE_FAVICON", asset_image("FORCE_FAVICON")),
              "force_primary_colour": r.parsed("FORCE_PRIMARY_COLOUR", colour_against_white(
                  "FORCE_PRIMARY_COLOUR", "the page header, behind white text")),
              "force_accent_colour": r.parsed("FORCE_ACCENT_COLOUR", colour_against_white(
                  "FORCE_ACCENT_COLOUR", "links and borders on a white page"))}
    return {key: value for key, value in values.items() if value is not None}
