"""Message templates: the words victims receive, kept as data files and filled in the way GOV.UK Notify does.

Each template is one JSON file in `rxapp/templates/` (see the README there), named after the template:

    {"id": "<uuid>", "name": "officer_assigned", "channel": "sms", "kind": "attendance",
     "description": "when it is sent, for staff and translators",
     "translation_status": "...",
     "body": {"en": "...((link))", "pl": "...", "ur": "...", "ar": "..."},
     "subject": {...},            # email templates only
     "email": {"subject": {...}}, # optional, on a text template: the same words by email when a text
                                  # cannot be used ("body" may be given too; otherwise the text's body)
     "line": {...}}               # optional, on a routine update: how it reads in a list of updates sent
                                  # together as one message (`updates_together`, `rxapp/domain/bundling.py`)

Placeholders are written `((name))`. Rendering fills every one from the personalisation, falls back to
English when the victim's language has no version, and refuses, naming what is missing, rather than send
a text with a gap in it. Values are put in once and never read again as template text, so a value that
happens to contain "((...))" cannot pull in anything else.

`validate_all` is the check a test runs over the real files: every template in all four languages, the
same placeholders in every language, English texts within two segments when filled with realistic
values, and no word that would give away the nature of a sensitive case on a phone's lock screen.

The module has no I/O except `load_templates`, which reads its own data files.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional

from . import sms
from .contact import Channel
from .safety import MessageKind

LANGUAGES = ("en", "pl", "ur", "ar")
DEFAULT_LANGUAGE = "en"
CHANNELS = tuple(Channel)
KINDS = tuple(MessageKind)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

PLACEHOLDER = re.compile(r"\(\(([A-Za-z][A-Za-z0-9_]*)\)\)")

# The texts the attendance journey sends (rxapp/attendance_texts.py), the replies to a victim's texts,
# and the investigation journey's Victims' Code updates (named in rxapp/rules/victims_code_2020.json).
REQUIRED_TEMPLATES = (
    "officer_assigned",
    "attendance_delayed",
    "attendance_delayed_no_window",
    "officer_arriving_soon",
    "attendance_closed",
    "attendance_closed_no_crime",
    "no_officer_yet",
    "opt_out_confirmation",
    "reply_received",
    "crime_recorded",
    "update_not_investigated",
    "update_suspect_arrested",
    "update_suspect_interviewed",
    "update_released_nfa",
    "update_released_on_bail",
    "update_released_under_investigation",
    "update_bail_changed",
    "update_charged",
    "update_out_of_court_disposal",
    "update_filed",
    "update_property_return",
    "support_referral_made",
    "vps_offer",
    "routine_no_news",
    "oic_changed",
    "updates_together",
    "updates_together_more",
    "updates_together_portal",
    "portal_invitation",
    "portal_code",
    "portal_reply_waiting",
)

# Realistic values, about as long as real ones get: a tracking link with its 43-character token, a
# crime reference, an arrival window as `eta.describe_clock_window` writes it, the officer in charge as
# rank and five-digit collar number (never a name), and the longest date a routine update can promise.
SAMPLE_PERSONALISATION: Mapping[str, str] = MappingProxyType({
    "link": "https://victims.cleveland.police.uk/track/" + "Xq3vT9mKp2LwR8sYb4NcZ7hJd1FgU6eAo5iVy0tHrQk",
    "crime_reference": "CL/26/041877",
    "window": "between 10:05 and 10:15",
    "officer": "DC 12345",
    "next_update": "Wednesday 30 September",
    "count": "7",
    "updates": "1. The crime you reported has been recorded.\n2. Someone has been arrested.",
    "code": "123456",  # a portal sign-in code
})
# The longest window text the ETA module writes: a window on another day.
LONGEST_SAMPLE_PERSONALISATION: Mapping[str, str] = MappingProxyType({
    **SAMPLE_PERSONALISATION,
    "window": "between 23:45 and 00:15 on Wednesday 30 September",
})

MAX_SMS_SEGMENTS = 2
# GOV.UK Notify refuses a text longer than this, in any language.
NOTIFY_MAX_SMS_CHARACTERS = 918

# Words that would tell whoever glances at the victim's phone what kind of crime this is. The same
# templates go to every victim, so none may carry them (the Code: "sensitive detail stays behind the
# portal's sign-in").
SENSITIVE_WORDS = ("domestic", "abuse", "sexual", "rape", "assault", "violence", "stalking", "harassment",
                   "hate crime", "trafficking")


class TemplateError(ValueError):
    """A template file that cannot be used, or a template asked for something it does not have."""


class MissingPersonalisation(ValueError):
    """A placeholder with no value: the message is not sent with a gap in it."""

    def __init__(self, template: str, missing: Iterable[str]):
        self.template = template
        self.missing = tuple(sorted(missing))
        names = ", ".join(f"(({m}))" for m in self.missing)
        super().__init__(f"template '{template}' needs a value for {names}")


@dataclass(frozen=True)
class RenderedMessage:
    subject: Optional[str]  # None for a text
    body: str
    language_used: str


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    channel: str  # a Channel
    kind: str  # a MessageKind
    body: Mapping[str, str]  # language -> text
    subject: Optional[Mapping[str, str]] = None  # email templates
    email_subject: Optional[Mapping[str, str]] = None  # a text template's email version
    email_body: Optional[Mapping[str, str]] = None  # a text template's email version, when its words differ
    line: Optional[Mapping[str, str]] = None  # how this update reads in a list of updates sent together
    description: str = ""
    translation_status: str = ""

    def line_in(self, language: Optional[str]) -> Optional[str]:
        """This update's line for a list of updates, in `language` (English when it has none), or None when
        it has no line (it is then never sent together with others)."""
        if self.line is None:
            return None
        code = (language or "").strip().lower().replace("_", "-").split("-")[0]
        return self.line.get(code) or self.line[DEFAULT_LANGUAGE]

    @property
    def has_email_version(self) -> bool:
        """Whether this template can go by email (its own channel, or a text with an email version)."""
        return self.channel == Channel.EMAIL or self.email_subject is not None

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.body)

    def parts(self, channel: Optional[str] = None) -> tuple[Optional[Mapping[str, str]], Mapping[str, str]]:
        """(subject, body) texts by language for sending on `channel` (default: the template's own)."""
        channel = channel or self.channel
        if channel == self.channel:
            return (self.subject if channel == Channel.EMAIL else None), self.body
        if channel == Channel.EMAIL and self.email_subject is not None:
            return self.email_subject, self.email_body or self.body
        raise TemplateError(f"template '{self.name}' has no {channel} version")

    def placeholders(self, language: str = DEFAULT_LANGUAGE, channel: Optional[str] = None) -> frozenset[str]:
        """The placeholder names used in one language (subject and body together)."""
        subject, body = self.parts(channel)
        names = set(PLACEHOLDER.findall(body.get(language, "")))
        if subject:
            names |= set(PLACEHOLDER.findall(subject.get(language, "")))
        return frozenset(names)

    def resolve_language(self, language: Optional[str], channel: Optional[str] = None) -> str:
        """The language to use: the victim's ("pl", "pl-PL", "PL" all mean Polish) when this template has
        it, otherwise English."""
        subject, body = self.parts(channel)
        code = (language or "").strip().lower().replace("_", "-").split("-")[0]
        if code in body and (subject is None or code in subject):
            return code
        return DEFAULT_LANGUAGE

    def render(self, language: Optional[str], personalisation: Mapping[str, Any],
               channel: Optional[str] = None) -> RenderedMessage:
        """The message in the victim's language (English if there is no version in it), placeholders
        filled from `personalisation`. Extra values are ignored, as Notify ignores them; a missing (or
        None) value raises `MissingPersonalisation`."""
        subject_texts, body_texts = self.parts(channel)
        used = self.resolve_language(language, channel)
        needed = self.placeholders(used, channel)
        missing = {name for name in needed if personalisation.get(name) is None}
        if missing:
            raise MissingPersonalisation(self.name, missing)
        values = {name: str(personalisation[name]) for name in needed}

        def fill(text: str) -> str:
            return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

        subject = fill(subject_texts[used]) if subject_texts is not None else None
        return RenderedMessage(subject=subject, body=fill(body_texts[used]), language_used=used)


# ---- reading the data files --------------------------------------------------------------------------

def _texts(data: Mapping[str, Any], key: str, source: str, required: bool) -> Optional[Mapping[str, str]]:
    value = data.get(key)
    if value is None:
        if required:
            raise TemplateError(f"{source}: '{key}' is required")
        return None
    if not isinstance(value, Mapping) or not value:
        raise TemplateError(f"{source}: '{key}' must be an object of language code to text")
    for lang, text in value.items():
        if not isinstance(lang, str) or not isinstance(text, str) or not text.strip():
            raise TemplateError(f"{source}: '{key}' has an empty or non-text entry for {lang!r}")
        leftover = PLACEHOLDER.sub("", text)
        if "((" in leftover or "))" in leftover:
            raise TemplateError(f"{source}: '{key}' [{lang}] has a malformed placeholder (write ((name)))")
    if DEFAULT_LANGUAGE not in value:
        raise TemplateError(f"{source}: '{key}' has no English ('en') text to fall back on")
    return MappingProxyType(dict(value))


def parse_template(data: Mapping[str, Any], source: str = "template") -> Template:
    """A `Template` from the decoded JSON of one file. Raises TemplateError naming the problem."""
    if not isinstance(data, Mapping):
        raise TemplateError(f"{source}: must be a JSON object")
    for key in ("id", "name", "channel", "kind"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise TemplateError(f"{source}: '{key}' is required and must be text")
    try:
        template_id = str(uuid.UUID(data["id"]))
    except ValueError:
        raise TemplateError(f"{source}: 'id' must be a UUID") from None
    if data["channel"] not in CHANNELS:
        raise TemplateError(f"{source}: 'channel' must be one of {', '.join(CHANNELS)}")
    if data["kind"] not in KINDS:
        raise TemplateError(f"{source}: 'kind' must be one of {', '.join(KINDS)}")
    is_email = data["channel"] == Channel.EMAIL
    email = data.get("email")
    if email is not None and (is_email or not isinstance(email, Mapping)):
        raise TemplateError(f"{source}: 'email' is an object, and only for text templates")
    return Template(
        id=template_id,
        name=data["name"],
        channel=data["channel"],
        kind=data["kind"],
        body=_texts(data, "body", source, required=True),
        subject=_texts(data, "subject", source, required=is_email),
        email_subject=_texts(email, "subject", f"{source} email", required=True) if email else None,
        email_body=_texts(email, "body", f"{source} email", required=False) if email else None,
        line=_line(data, source),
        description=str(data.get("description", "")),
        translation_status=str(data.get("translation_status", "")),
    )


def _line(data: Mapping[str, Any], source: str) -> Optional[Mapping[str, str]]:
    line = _texts(data, "line", source, required=False)
    if line is None:
        return None
    if data["kind"] != MessageKind.ROUTINE:
        raise TemplateError(f"{source}: only a routine update has a 'line' (others are never sent together)")
    for lang, text in line.items():
        if PLACEHOLDER.search(text) or "\n" in text:
            raise TemplateError(f"{source}: 'line' [{lang}] must be one line without placeholders")
    return line


def load_templates(directory: Path | str = TEMPLATES_DIR) -> dict[str, Template]:
    """Every `*.json` template in `directory`, by name. A file's name must be the template's name, and
    names and ids must be unique, so a copied file cannot silently replace another template."""
    found: dict[str, Template] = {}
    ids: dict[str, str] = {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise TemplateError(f"{path.name}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        template = parse_template(data, path.name)
        if template.name != path.stem:
            raise TemplateError(f"{path.name}: holds template '{template.name}'; the file must be named "
                                f"{template.name}.json")
        if template.id in ids:
            raise TemplateError(f"{path.name}: id {template.id} is already used by '{ids[template.id]}'")
        ids[template.id] = template.name
        found[template.name] = template
    return found


# ---- checking them -----------------------------------------------------------------------------------

def validate_all(templates: Optional[Mapping[str, Template]] = None, *,
                 samples: Mapping[str, str] = SAMPLE_PERSONALISATION,
                 max_sms_segments: int = MAX_SMS_SEGMENTS,
                 required: Iterable[str] = REQUIRED_TEMPLATES) -> list[str]:
    """Every problem found in the templates (by default the real ones), as sentences; empty when all is
    well. See the module notes for what is checked."""
    if templates is None:
        templates = load_templates()
    problems: list[str] = []
    for name in required:
        if name not in templates:
            problems.append(f"{name}: missing (the application sends it)")
    for name, template in sorted(templates.items()):
        also_email = template.channel == Channel.SMS and template.has_email_version
        channels = [template.channel] + ([Channel.EMAIL] if also_email else [])
        for channel in channels:
            problems.extend(_check_version(template, channel, samples, max_sms_segments))
        if template.line is not None:
            problems.extend(_check_line(template))
        if set(template.languages) - {DEFAULT_LANGUAGE} and not template.translation_status:
            problems.append(f"{name}: has translations but no translation_status saying who checked them")
    return problems


def _check_line(template: Template) -> list[str]:
    problems = [f"{template.name}: line has no {lang} version" for lang in LANGUAGES if lang not in template.line]
    english = template.line[DEFAULT_LANGUAGE]
    problems += [f"{template.name}: line says '{word}', which could reveal a sensitive case"
                 for word in SENSITIVE_WORDS if re.search(rf"\b{re.escape(word)}", english.lower())]
    if not sms.is_gsm7(english):
        problems.append(f"{template.name}: English line is not plain GSM-7 because of "
                        + " ".join(repr(c) for c in sms.non_gsm7_characters(english)))
    return problems


def _check_version(template: Template, channel: str, samples: Mapping[str, str],
                   max_sms_segments: int) -> list[str]:
    name = template.name if channel == template.channel else f"{template.name} ({channel} version)"
    problems: list[str] = []
    subject, body = template.parts(channel)
    for field_name, texts in (("subject", subject), ("body", body)):
        if texts is None:
            continue
        missing = [lang for lang in LANGUAGES if lang not in texts]
        if missing:
            problems.append(f"{name}: {field_name} has no {', '.join(missing)} version")
        english = set(PLACEHOLDER.findall(texts.get(DEFAULT_LANGUAGE, "")))
        for lang, text in sorted(texts.items()):
            other = set(PLACEHOLDER.findall(text))
            if other != english:
                problems.append(f"{name}: {field_name} [{lang}] has placeholders {sorted(other)}, "
                                f"English has {sorted(english)}")
        english_text = texts.get(DEFAULT_LANGUAGE, "").lower()
        for word in SENSITIVE_WORDS:
            if re.search(rf"\b{re.escape(word)}", english_text):
                problems.append(f"{name}: {field_name} says '{word}', which could reveal a sensitive case")

    unknown = sorted(template.placeholders(DEFAULT_LANGUAGE, channel) - set(samples))
    if unknown:
        problems.append(f"{name}: no sample value for {', '.join(unknown)}; add one to check its length")
        return problems
    if channel != Channel.SMS:
        return problems
    for lang in sorted(body):
        try:
            text = template.render(lang, samples, channel=channel).body
        except MissingPersonalisation:
            continue  # its placeholders differ from the English ones: reported above
        if len(text) > NOTIFY_MAX_SMS_CHARACTERS:
            problems.append(f"{name} [{lang}]: {len(text)} characters, over Notify's {NOTIFY_MAX_SMS_CHARACTERS}")
    english = template.render(DEFAULT_LANGUAGE, samples, channel=channel).body
    size = sms.measure(english)
    if size.encoding != sms.GSM7:
        # One curly quote or dash halves what fits in a segment; Notify would also have to rewrite it.
        problems.append(f"{name}: English text is not plain GSM-7 because of "
                        + " ".join(repr(c) for c in sms.non_gsm7_characters(english)))
    if size.segments > max_sms_segments:
        problems.append(f"{name}: English text takes {size.segments} segments ({size.units} {size.encoding} "
                        f"units); at most {max_sms_segments} allowed")
    return problems


__all__ = [
    "DEFAULT_LANGUAGE", "LANGUAGES", "LONGEST_SAMPLE_PERSONALISATION", "MissingPersonalisation",
    "RenderedMessage", "REQUIRED_TEMPLATES", "SAMPLE_PERSONALISATION", "Template", "TemplateError",
    "TEMPLATES_DIR", "load_templates", "parse_template", "validate_all",
]
