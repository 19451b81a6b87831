"""Where a victim can get support: the force's list of services, shown after a visit (and later in the portal).

A force sets its own with SUPPORT_CONTACTS_JSON (read in rxapp/plumbing/config.py), a JSON list of objects:

    [{"name": "Victim Care and Advice Service (VCAS)", "phone": "0800 000 0000",
      "url": "https://www.example.org", "about": {"en": "What they do...", "pl": "..."}}]

`name` is required (a service's own name, not translated); `phone` (digits, spaces and a leading +) becomes a
tap-to-call link; `url` must be https; `about` is text by language (English required), or `about_key`, a
text in the pages' translation files (`support.vcas`). Without the variable the defaults below are used:
Cleveland's local service and Victim Support's national Supportline; a force must check them before go-live.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

MAX_CONTACTS = 8
_PHONE = re.compile(r"\+?[0-9][0-9 ]{2,19}")
_KEY = re.compile(r"support\.[a-z_]+")


@dataclass(frozen=True)
class SupportContact:
    name: str
    phone: str = ""
    url: str = ""
    about: Mapping[str, str] = field(default_factory=dict)  # language -> text
    about_key: str = ""  # or a text of the translation files

    @property
    def tel(self) -> str:
        """The tap-to-call address, e.g. tel:08081689111."""
        return "tel:" + self.phone.replace(" ", "") if self.phone else ""


DEFAULT_SUPPORT_CONTACTS = (
    SupportContact(name="Victim Care and Advice Service (VCAS)", about_key="support.vcas"),
    SupportContact(name="Victim Support", phone="0808 168 9111", url="https://www.victimsupport.org.uk",
                   about_key="support.victim_support"),
)


def _text(item: Mapping, key: str, limit: int, index: int) -> str:
    value = item.get(key, "")
    if not isinstance(value, str) or len(value) > limit or any(c in value for c in "\r\n<>"):
        raise ValueError(f"SUPPORT_CONTACTS_JSON: entry {index} has a '{key}' that is not plain text of at most "
                         f"{limit} characters")
    return value.strip()


def _contact(item: object, index: int) -> SupportContact:
    if not isinstance(item, Mapping):
        raise ValueError(f"SUPPORT_CONTACTS_JSON: entry {index} must be an object with at least a name")
    unknown = sorted(set(item) - {"name", "phone", "url", "about", "about_key"})
    if unknown:
        raise ValueError(f"SUPPORT_CONTACTS_JSON: entry {index} has unknown field(s) {', '.join(unknown)}")
    name = _text(item, "name", 120, index)
    if not name:
        raise ValueError(f"SUPPORT_CONTACTS_JSON: entry {index} needs a name")
    phone = _text(item, "phone", 20, index)
    if phone and not _PHONE.fullmatch(phone):
        raise ValueError(f"SUPPORT_CONTACTS_JSON: entry {index}'s phone must be digits and spaces, e.g. 0808 168 9111")
    url = _text(item, "url", 200, index)
    if url and (not url.startswith("https://") or " " in url):
        raise ValueError(f"SUPPORT_CONTACTS_JSON: entry {index}'s url must start with https://")
    about_key = _text(item, "about_key", 60, index)
    if about_key and not _KEY.fullmatch(about_key):
        raise ValueError(f"SUPPORT_CONTACTS_JSON: entry {index}'s about_key must name a text like support.vcas")
    about = item.get("about", {})
    if isinstance(about, str):
        about = {"en": about}
    if not isinstance(about, Mapping) or (about and "en" not in about):
        raise ValueError(f"SUPPORT_CONTACTS_JSON: entry {index}'s about must be text, or an object of language "
                         "code to text with English (en)")
    texts = {str(lang): _text(about, lang, 400, index) for lang in about}
    return SupportContact(name=name, phone=phone, url=url, about=texts, about_key=about_key)


def parse_support_contacts(raw: Optional[str]) -> tuple[SupportContact, ...]:
    """The force's support contacts from SUPPORT_CONTACTS_JSON, or the defaults when it is not set."""
    if raw is None or not raw.strip():
        return DEFAULT_SUPPORT_CONTACTS
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"SUPPORT_CONTACTS_JSON is not valid JSON: {exc.msg}") from None
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_CONTACTS:
        raise ValueError(f"SUPPORT_CONTACTS_JSON must be a JSON list of 1 to {MAX_CONTACTS} services, e.g. "
                         '[{"name": "Victim Support", "phone": "0808 168 9111"}]')
    return tuple(_contact(item, i + 1) for i, item in enumerate(data))
