"""The words people read on the product's pages, in each language a victim may have, kept as data files.

One TOML file per language in `locales/` (`en.toml`, `pl.toml`, `ur.toml`, `ar.toml`; see the README there),
and more of the same language's texts in one folder per area of the product (`locales/<area>/<lang>.toml`, e.g.
`locales/portal/pl.toml`), so that each area's words can be written and reviewed on their own. The main file
has a `[meta]` table (the language's own name, its writing direction, who checked it) and tables of texts,
addressed as "table.key" (`status.en_route`). Values are put into a text with `{name}` placeholders;
a value is inserted once and never read again as template text.

`text(lang, key, **values)` gives one text in a language (English when the language is not one we have);
a missing placeholder value or an unknown key raises, so a page never shows a gap or a key. `check_all`
is what a test runs over the real files: every key in every language, the same placeholders in each, no
empty text. The module reads only its own data files.
"""
from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Optional

LANGUAGES = ("en", "pl", "ur", "ar")
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = ("ur", "ar")
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
META_KEYS = ("name", "direction", "review")


class TranslationError(ValueError):
    """A translation file that cannot be used, or a text asked for that it does not have."""


def resolve_language(code: Optional[str]) -> str:
    """The language to show: the victim's ("pl", "pl-PL", "PL" all mean Polish) when we have it, else English."""
    base = (code or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def direction(lang: str) -> str:
    return "rtl" if resolve_language(lang) in RIGHT_TO_LEFT else "ltr"


def _flatten(data: Mapping, prefix: str, source: str, out: dict[str, str]) -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, f"{name}.", source, out)
        elif isinstance(value, str):
            out[name] = value
        else:
            raise TranslationError(f"{source}: '{name}' must be text")


def _parse_texts(data: dict, source: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    _flatten(data, "", source, texts)
    for name, value in texts.items():
        leftover = PLACEHOLDER.sub("", value)
        if "{" in leftover or "}" in leftover:
            raise TranslationError(f"{source}: '{name}' has a malformed placeholder (write {{name}})")
    return texts


def _toml(raw: str, source: str) -> dict:
    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise TranslationError(f"{source}: not valid TOML ({exc})") from None


def parse_area(raw: str, source: str) -> dict[str, str]:
    """The texts of one area file (`locales/<area>/<lang>.toml`: no [meta]). Raises TranslationError."""
    data = _toml(raw, source)
    if "meta" in data:
        raise TranslationError(f"{source}: only the main file of a language has a [meta] table")
    return _parse_texts(data, source)


def area_files(directory: Path, lang: str) -> list[Path]:
    return sorted(path for path in directory.glob(f"*/{lang}.toml") if path.is_file())


def with_areas(directory: Path, lang: str, texts: dict[str, str]) -> dict[str, str]:
    """`texts` (a language's main file) with every area file of that language added; a key in two files raises."""
    merged = dict(texts)
    for path in area_files(directory, lang):
        source = f"{path.parent.name}/{path.name}"
        for key, value in parse_area(path.read_text(encoding="utf-8"), source).items():
            if key in merged:
                raise TranslationError(f"{source}: '{key}' is already given by another file")
            merged[key] = value
    return merged


def parse_locale(raw: str, source: str) -> tuple[dict[str, str], dict[str, str]]:
    """(meta, texts) from one file's TOML text. Raises TranslationError naming the problem."""
    data = _toml(raw, source)
    meta = data.pop("meta", None)
    if not isinstance(meta, Mapping) or any(not isinstance(meta.get(k), str) for k in META_KEYS):
        raise TranslationError(f"{source}: needs a [meta] table with {', '.join(META_KEYS)}")
    if meta["direction"] not in ("ltr", "rtl"):
        raise TranslationError(f"{source}: meta.direction must be ltr or rtl")
    return dict(meta), _parse_texts(data, source)


@lru_cache(maxsize=None)
def _load(lang: str) -> tuple[Mapping[str, str], Mapping[str, str]]:
    path = LOCALES_DIR / f"{lang}.toml"
    meta, texts = parse_locale(path.read_text(encoding="utf-8"), path.name)
    return MappingProxyType(meta), MappingProxyType(with_areas(LOCALES_DIR, lang, texts))


def texts(lang: str) -> Mapping[str, str]:
    """Every text of a language (English for a language we do not have), by key."""
    return _load(resolve_language(lang))[1]


def meta(lang: str) -> Mapping[str, str]:
    return _load(resolve_language(lang))[0]


def fill(template: str, values: Mapping[str, object], key: str = "text") -> str:
    needed = set(PLACEHOLDER.findall(template))
    missing = sorted(n for n in needed if values.get(n) is None)
    if missing:
        raise TranslationError(f"'{key}' needs a value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def text(lang: str, key: str, **values: object) -> str:
    """One text in `lang`, its placeholders filled from `values`."""
    found = texts(lang).get(key)
    if found is None:
        raise TranslationError(f"no text '{key}'")
    return fill(found, values, key)


def labels(lang: str, prefix: str) -> dict[str, str]:
    """Every text under a table (`labels(lang, "page")` -> {"title": ..., ...}): the fixed words of a page."""
    start = prefix + "."
    return {k[len(start):]: v for k, v in texts(lang).items() if k.startswith(start)}


def check_all(directory: Path = LOCALES_DIR, languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """Every problem in the translation files, as sentences; empty when all is well."""
    problems: list[str] = []
    loaded: dict[str, dict[str, str]] = {}
    for lang in languages:
        path = directory / f"{lang}.toml"
        if not path.exists():
            problems.append(f"{lang}: no file {path.name}")
            continue
        try:
            meta_, texts_ = parse_locale(path.read_text(encoding="utf-8"), path.name)
            texts_ = with_areas(directory, lang, texts_)
        except TranslationError as exc:
            problems.append(str(exc))
            continue
        expected = "rtl" if lang in RIGHT_TO_LEFT else "ltr"
        if meta_["direction"] != expected:
            problems.append(f"{lang}: direction is {meta_['direction']}, expected {expected}")
        loaded[lang] = texts_
    english = loaded.get(DEFAULT_LANGUAGE, {})
    for lang, texts_ in sorted(loaded.items()):
        for key in sorted(set(english) - set(texts_)):
            problems.append(f"{lang}: '{key}' is missing")
        for key in sorted(set(texts_) - set(english)):
            problems.append(f"{lang}: '{key}' is not in English (a typo, or a text no page uses)")
        for key, value in sorted(texts_.items()):
            if not value.strip():
                problems.append(f"{lang}: '{key}' is empty")
            if key in english and set(PLACEHOLDER.findall(value)) != set(PLACEHOLDER.findall(english[key])):
                problems.append(f"{lang}: '{key}' has placeholders {sorted(set(PLACEHOLDER.findall(value)))}, "
                                f"English has {sorted(set(PLACEHOLDER.findall(english[key])))}")
    return problems
