"""Words for the product's own codes on staff pages (rxapp/domain/labels.py): every template file has its words,
and a stored sentence naming a template or a records-system event reads in words."""
from __future__ import annotations

import json
import re

from rxapp.domain.labels import (
    TEMPLATE_LABELS,
    TIMELINE_LABELS,
    template_label,
    timeline_label,
    timeline_staff_text,
    with_template_labels,
)
from rxapp.domain.templates import TEMPLATES_DIR


def test_every_template_file_has_words_for_staff():
    names = {json.loads(p.read_text())["name"] for p in TEMPLATES_DIR.glob("*.json")}
    assert names and names <= set(TEMPLATE_LABELS), sorted(names - set(TEMPLATE_LABELS))
    for name in names:
        label = template_label(name)
        assert "_" not in label and label[0].isupper(), label


def test_every_records_event_has_words_for_the_timeline():
    from integrations.niche.protocol import EVENTS

    for event in EVENTS:
        assert event.lower() in TIMELINE_LABELS, event
        assert "_" not in timeline_label(event.lower())


def test_a_name_not_listed_still_reads_as_words():
    assert template_label("update_new_thing") == "Update: new thing"
    assert template_label("some_new_message") == "Some new message"


def test_a_stored_sentence_names_the_template_in_words():
    detail = "The victim has no usable text or email contact for the 'update_not_investigated' update. Ring them."
    assert with_template_labels(detail) == ("The victim has no usable text or email contact for the "
                                            "“Update: not investigated further for now” update. Ring them.")
    assert with_template_labels("An automated 'crime_recorded' message was stopped") == \
        "An automated “Crime recorded: written confirmation” message was stopped"
    # The longest name wins; words that merely contain a name are left alone.
    assert with_template_labels("'updates_together_more'") == "“Several updates in one message (the rest)”"
    assert with_template_labels("routine_no_newsletter") == "routine_no_newsletter"
    assert not re.search(r"[a-z]+_[a-z]+", with_template_labels(" ".join(f"'{n}'" for n in TEMPLATE_LABELS)))


def test_a_records_event_on_the_timeline_reads_in_words():
    assert timeline_staff_text("released_nfa", "Released nfa: no evidence") == \
        "Suspect released with no further action: no evidence"
    assert timeline_staff_text("vps_offered", "Vps offered") == "Victim Personal Statement offered"
    assert timeline_staff_text("recorded", "Crime recorded as 28/1") == "Crime recorded as 28/1"
    assert timeline_label("charged") == "Charged"
