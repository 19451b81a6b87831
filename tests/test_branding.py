"""The force's branding is configuration that is checked (rxapp/plumbing/branding.py, read by config.py) and shown
in the frame of every page (rxapp/ui/layout.py)."""
from __future__ import annotations

import json

import pytest

from rxapp.plumbing import branding
from rxapp.plumbing.config import ConfigError, load_settings

BASE = {"SECRET_KEY": "x" * 40}


@pytest.mark.parametrize("colour, expected", [
    ("#ffffff", 1.0), ("#000000", 21.0), ("#1d70b8", 5.17), ("#0b0c0c", 19.59), ("#767676", 4.54),
    ("#777777", 4.48), ("#d4351c", 4.86),
])
def test_contrast_with_white_is_wcags(colour, expected):
    assert branding.contrast(colour, "#ffffff") == pytest.approx(expected, abs=0.01)
    assert branding.contrast("#ffffff", colour) == pytest.approx(expected, abs=0.01)


def test_defaults_are_the_placeholder_crest_and_readable_colours():
    s = load_settings(BASE)
    assert (s.force_name, s.force_crest, s.force_favicon) == (
        "Cleveland Police", "branding/crest.svg", "branding/favicon.svg")
    assert (branding.ASSETS / s.force_crest).is_file() and (branding.ASSETS / s.force_favicon).is_file()
    assert branding.contrast(s.force_primary_colour, "#ffffff") >= 4.5
    assert branding.contrast(s.force_accent_colour, "#ffffff") >= 4.5


def test_a_force_sets_its_own():
    s = load_settings({**BASE, "FORCE_NAME": "  Example   Constabulary ", "FORCE_PRIMARY_COLOUR": "#2B0A3D",
                       "FORCE_ACCENT_COLOUR": "#005EA5", "FORCE_CREST": "/branding/crest.svg",
                       "FORCE_FAVICON": "branding/favicon.svg"})
    assert s.force_name == "Example Constabulary"
    assert (s.force_primary_colour, s.force_accent_colour) == ("#2b0a3d", "#005ea5")
    assert s.force_crest == "branding/crest.svg"


@pytest.mark.parametrize("name, value, words", [
    ("FORCE_PRIMARY_COLOUR", "#777777", "contrast of 4.5 to 1 with white"),
    ("FORCE_PRIMARY_COLOUR", "#ffdd00", "contrast of 1.3 to 1 with white"),
    ("FORCE_ACCENT_COLOUR", "blue", "#rrggbb"),
    ("FORCE_ACCENT_COLOUR", "#1d70b", "#rrggbb"),
    ("FORCE_NAME", "Two\nlines", "one line"),
    ("FORCE_NAME", "x" * 61, "1 to 60 characters"),
    ("FORCE_CREST", "../rxapp/rxapp.py", "assets/ folder"),
    ("FORCE_CREST", "branding/crest.gif", ".svg, .png, .webp"),
    ("FORCE_CREST", "branding/missing.svg", "not in the assets/ folder"),
    ("FORCE_FAVICON", "/etc/passwd.ico", "not in the assets/ folder"),
    ("FORCE_FAVICON", "branding/fav icon.svg", "letters, digits"),
])
def test_a_bad_value_is_refused_with_its_name_and_what_it_needs(name, value, words):
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: value})
    [problem] = caught.value.problems
    assert problem.startswith(name) and words in problem, problem


def test_every_problem_at_once():
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "FORCE_PRIMARY_COLOUR": "#fff", "FORCE_ACCENT_COLOUR": "#ffffff",
                       "FORCE_CREST": "nope.svg"})
    assert sorted(p.split()[0] for p in caught.value.problems) == [
        "FORCE_ACCENT_COLOUR", "FORCE_CREST", "FORCE_PRIMARY_COLOUR"]


def test_the_frame_shows_the_force_on_every_page():
    from rxapp.ui import layout

    frame = json.dumps(layout.page("A title", wide=True).render())
    assert layout.BRAND in frame and layout.CREST_URL in frame and "vj-header" in frame and "A title" in frame
    head = "".join(str(c) for c in layout.head_components())
    assert layout.FAVICON_URL in head and layout.PRIMARY in layout.STYLE and layout.ACCENT in layout.STYLE
