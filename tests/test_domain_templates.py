"""Templates as data: the real files pass every check, rendering falls back to English and refuses gaps,
broken templates are caught, and SMS segments are counted the way networks count them."""
import json
import re
import uuid

import pytest

from rxapp.domain import sms
from rxapp.domain import templates as T
from rxapp.domain.templates import MissingPersonalisation, TemplateError, load_templates, parse_template, validate_all

REAL = load_templates()

EXPECTED = {
    "officer_assigned": {"link"},
    "attendance_delayed": {"window", "link"},
    "attendance_delayed_no_window": {"link"},
    "officer_arriving_soon": set(),
    "attendance_closed": {"crime_reference"},
    "attendance_closed_no_crime": set(),
    "no_officer_yet": {"link"},
    "opt_out_confirmation": set(),
    "reply_received": set(),
    # The investigation journey: Victims' Code milestone updates.
    "crime_recorded": {"crime_reference", "officer"},
    "update_not_investigated": {"crime_reference", "officer"},
    "update_suspect_arrested": {"crime_reference"},
    "update_suspect_interviewed": {"crime_reference"},
    "update_released_nfa": {"crime_reference", "officer"},
    "update_released_on_bail": {"crime_reference"},
    "update_released_under_investigation": {"crime_reference"},
    "update_bail_changed": {"crime_reference", "officer"},
    "update_charged": {"crime_reference"},
    "update_out_of_court_disposal": {"crime_reference", "officer"},
    "update_filed": {"crime_reference"},
    "update_property_return": {"crime_reference"},
    "support_referral_made": {"crime_reference"},
    "vps_offer": {"crime_reference", "officer"},
    "routine_no_news": {"crime_reference", "next_update"},
    "oic_changed": {"crime_reference", "officer"},
    # Updates that fall due together, as one message (rxapp/domain/bundling.py).
    "updates_together": {"count", "crime_reference", "updates"},
    "updates_together_more": {"count"},
    # The same list ending with the victim's portal link, when they have one (rxapp/messaging/bundles.py).
    "updates_together_portal": {"count", "crime_reference", "updates", "link"},
    # The victim portal: the invitation and the sign-in code (rxapp/portal/invitations.py, access.py).
    "portal_invitation": {"link"},
    "portal_code": {"code"},
    "portal_reply_waiting": {"link"},
}
INVESTIGATION = sorted(name for name, placeholders in EXPECTED.items() if "crime_reference" in placeholders
                       and name not in ("attendance_closed", "updates_together_portal"))


# ---- the real templates ------------------------------------------------------------------------------

def test_real_templates_pass_every_check():
    assert validate_all() == []


def test_real_templates_fit_with_the_longest_window_text():
    assert validate_all(samples=T.LONGEST_SAMPLE_PERSONALISATION) == []


def test_sample_values_are_realistic():
    link = T.SAMPLE_PERSONALISATION["link"]
    assert re.fullmatch(r"https://victims\.cleveland\.police\.uk/track/[A-Za-z0-9_-]{43}", link)
    assert T.SAMPLE_PERSONALISATION["crime_reference"] == "CL/26/041877"
    assert T.SAMPLE_PERSONALISATION["window"] == "between 10:05 and 10:15"
    assert re.fullmatch(r"[A-Z]{2,4} \d{3,5}", T.SAMPLE_PERSONALISATION["officer"])  # rank and collar number
    assert re.fullmatch(r"[A-Z][a-z]+day \d{1,2} [A-Z][a-z]+", T.SAMPLE_PERSONALISATION["next_update"])


@pytest.mark.parametrize("name,placeholders", sorted(EXPECTED.items()))
def test_each_template_is_complete(name, placeholders):
    t = REAL[name]
    assert t.name == name and str(uuid.UUID(t.id)) == t.id
    assert t.channel == "sms"
    assert t.languages == {"en", "pl", "ur", "ar"}
    assert t.translation_status == "machine-drafted, needs review by a qualified translator"
    for lang in T.LANGUAGES:
        assert t.placeholders(lang) == placeholders, lang
    english = t.render("en", T.SAMPLE_PERSONALISATION).body
    assert sms.is_gsm7(english) and sms.segments(english) <= 2


def test_template_set_and_ids():
    assert set(REAL) == set(EXPECTED) == set(T.REQUIRED_TEMPLATES)
    assert len({t.id for t in REAL.values()}) == len(REAL)
    kinds = {name: t.kind for name, t in REAL.items()}
    assert kinds.pop("opt_out_confirmation") == "service" and kinds.pop("reply_received") == "service"
    assert {kinds.pop(name) for name in INVESTIGATION} == {"routine"}
    assert kinds.pop("updates_together_more") == "routine"
    assert kinds.pop("updates_together_portal") == kinds.pop("portal_invitation") == "routine"
    assert kinds.pop("portal_code") == "service"
    assert kinds.pop("portal_reply_waiting") == "routine"  # quiet hours protect sleep: a reply can wait for 08:00
    assert set(kinds.values()) == {"attendance"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_texts_name_no_crime_and_no_resource(name):
    for lang in T.LANGUAGES:
        body = REAL[name].render(lang, T.SAMPLE_PERSONALISATION).body.lower()
        for word in ("domestic", "sexual", "burglary", "call sign", "callsign", "vehicle", "registration"):
            assert word not in body


def test_danger_texts_say_999():
    for name in ("officer_assigned", "attendance_delayed", "attendance_delayed_no_window", "no_officer_yet",
                 "reply_received"):
        for lang in T.LANGUAGES:
            assert "999" in REAL[name].render(lang, T.SAMPLE_PERSONALISATION).body, (name, lang)
    for name in ("update_released_on_bail", "update_released_under_investigation", "update_bail_changed"):
        for lang in T.LANGUAGES:
            assert "999" in REAL[name].render(lang, T.SAMPLE_PERSONALISATION).body, (name, lang)
    for lang in T.LANGUAGES:
        assert "101" in REAL["opt_out_confirmation"].render(lang, {}).body


@pytest.mark.parametrize("name", INVESTIGATION)
def test_investigation_updates_say_where_to_get_more(name):
    t = REAL[name]
    assert t.kind == "routine" and t.has_email_version
    for channel in ("sms", "email"):
        for lang in T.LANGUAGES:
            r = t.render(lang, T.SAMPLE_PERSONALISATION, channel=channel)
            assert "101" in r.body and "CL/26/041877" in r.body, (channel, lang)
    english = t.render("en", T.LONGEST_SAMPLE_PERSONALISATION).body
    assert sms.is_gsm7(english) and sms.segments(english) <= 2


def test_links_come_last_so_no_full_stop_joins_them():
    for t in REAL.values():
        for lang, text in t.body.items():
            if "((link))" in text:
                assert text.endswith("((link))"), (t.name, lang)


# ---- rendering -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("asked,used", [
    ("en", "en"), ("pl", "pl"), ("ur", "ur"), ("ar", "ar"),
    ("pl-PL", "pl"), ("PL", "pl"), ("ar_SA", "ar"),
    ("cy", "en"), ("", "en"), (None, "en"), ("xx-YY", "en"),
])
def test_language_choice_and_english_fallback(asked, used):
    r = REAL["attendance_closed"].render(asked, {"crime_reference": "CL/26/041877"})
    assert r.language_used == used
    assert r.body == REAL["attendance_closed"].body[used].replace("((crime_reference))", "CL/26/041877")
    assert r.subject is None


def test_render_fills_placeholders():
    r = REAL["attendance_delayed"].render("en", {"window": "between 10:05 and 10:15", "link": "https://x/track/abc"})
    assert "arrive between 10:05 and 10:15." in r.body
    assert r.body.endswith("https://x/track/abc")
    assert "((" not in r.body


@pytest.mark.parametrize("personalisation,missing", [
    ({}, "((link)), ((window))"),
    ({"link": "https://x"}, "((window))"),
    ({"link": "https://x", "window": None}, "((window))"),
])
def test_missing_placeholder_is_a_clear_error(personalisation, missing):
    with pytest.raises(MissingPersonalisation) as err:
        REAL["attendance_delayed"].render("pl", personalisation)
    assert str(err.value) == f"template 'attendance_delayed' needs a value for {missing}"


def test_extra_values_are_ignored_and_values_are_not_reread_as_template_text():
    r = REAL["officer_assigned"].render("en", {"link": "((crime_reference))", "unused": "x"})
    assert r.body.endswith("((crime_reference))")


def test_email_version_of_a_text_template():
    t = REAL["officer_assigned"]
    assert t.has_email_version
    r = t.render("ur", {"link": "https://x"}, channel="email")
    assert r.subject == t.email_subject["ur"] and r.language_used == "ur"
    assert r.body.endswith("https://x")


def test_texts_without_an_email_version_cannot_be_emailed():
    t = REAL["opt_out_confirmation"]
    assert not t.has_email_version
    with pytest.raises(TemplateError, match="no email version"):
        t.render("en", {}, channel="email")


def test_an_email_template_has_a_subject():
    t = parse_template({"id": str(uuid.uuid4()), "name": "update_ready", "channel": "email", "kind": "routine",
                        "subject": {"en": "There is an update on your case"},
                        "body": {"en": "Read it here: ((link))"}})
    r = t.render("pl", {"link": "https://x"})
    assert (r.subject, r.body, r.language_used) == ("There is an update on your case", "Read it here: https://x", "en")
    with pytest.raises(TemplateError, match="no sms version"):
        t.render("en", {"link": "x"}, channel="sms")


# ---- broken templates are caught ---------------------------------------------------------------------

def good(**changes) -> dict:
    data = {"id": str(uuid.uuid4()), "name": "sample", "channel": "sms", "kind": "routine",
            "translation_status": "machine-drafted, needs review by a qualified translator",
            "body": {"en": "There is an update. Read it here: ((link))", "pl": "Jest nowa informacja: ((link))",
                     "ur": "نئی معلومات: ((link))", "ar": "تحديث جديد: ((link))"}}
    data.update(changes)
    return data


def problems_of(data: dict, **kwargs) -> list[str]:
    return validate_all({"sample": parse_template(data)}, required=(), **kwargs)


def test_a_good_template_has_no_problems():
    assert problems_of(good()) == []


@pytest.mark.parametrize("changes,problem", [
    (dict(body={"en": "Update: ((link))", "pl": "Nowa informacja: ((link))"}), "body has no ur, ar version"),
    (dict(body={"en": "Update: ((link))", "pl": "Nowa informacja: ((lnk))", "ur": "((link))", "ar": "((link))"}),
     "body [pl] has placeholders ['lnk'], English has ['link']"),
    (dict(body={"en": "Update: ((link)) ((window))", "pl": "((link))", "ur": "((link)) ((window))",
                "ar": "((link)) ((window))"}), "body [pl] has placeholders ['link'], English has ['link', 'window']"),
    (dict(body={"en": "An update about your domestic abuse case: ((link))", "pl": "((link))", "ur": "((link))",
                "ar": "((link))"}), "could reveal a sensitive case"),
    (dict(body={"en": "We’ve an update: ((link))", "pl": "((link))", "ur": "((link))", "ar": "((link))"}),
     "not plain GSM-7 because of '’'"),
    (dict(body={"en": "Update. " * 40 + "((link))", "pl": "((link))", "ur": "((link))", "ar": "((link))"}),
     "English text takes 3 segments"),
    (dict(body={"en": "Hello ((name))", "pl": "((name))", "ur": "((name))", "ar": "((name))"}),
     "no sample value for name"),
    (dict(translation_status=""), "no translation_status"),
    (dict(body={"en": "((link))", "pl": "x" * 900 + "((link))", "ur": "((link))", "ar": "((link))"}),
     "over Notify's 918"),
])
def test_validate_all_finds_problems(changes, problem):
    found = problems_of(good(**changes))
    assert any(problem in p for p in found), found


def test_email_version_is_checked_too():
    data = good(email={"subject": {"en": "Update", "pl": "Aktualizacja"}})
    assert problems_of(data) == ["sample (email version): subject has no ur, ar version"]


def test_missing_required_template_is_reported():
    assert "reply_received: missing (the application sends it)" in validate_all({}, required=("reply_received",))


def test_segment_limit_is_a_parameter():
    assert any("takes 2 segments" in p for p in problems_of(good(), max_sms_segments=1,
                                                            samples={"link": "https://x/" + "a" * 200}))


@pytest.mark.parametrize("data,message", [
    ([], "must be a JSON object"),
    (good(id="not-a-uuid"), "'id' must be a UUID"),
    (good(channel="letter"), "'channel' must be one of sms, email"),
    (good(kind="urgent"), "'kind' must be one of attendance, routine, service"),
    (good(body={"pl": "Tylko po polsku"}), "no English ('en') text to fall back on"),
    (good(body={"en": "Read it: ((link)"}), "malformed placeholder"),
    (good(body={"en": ""}), "empty or non-text entry"),
    (good(channel="email"), "'subject' is required"),
    (good(email={"body": {"en": "x"}}), "'subject' is required"),
    ({k: v for k, v in good().items() if k != "name"}, "'name' is required"),
])
def test_parse_rejects_bad_data(data, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        parse_template(data, "sample.json")


def test_load_templates_checks_files(tmp_path):
    (tmp_path / "sample.json").write_text(json.dumps(good()), encoding="utf-8")
    (tmp_path / "README.md").write_text("not a template")
    assert set(load_templates(tmp_path)) == {"sample"}

    (tmp_path / "other.json").write_text(json.dumps(good()), encoding="utf-8")
    with pytest.raises(TemplateError, match="the file must be named sample.json"):
        load_templates(tmp_path)
    (tmp_path / "other.json").write_text(json.dumps(good(name="other", id=json.loads(
        (tmp_path / "sample.json").read_text())["id"])), encoding="utf-8")
    with pytest.raises(TemplateError, match="is already used by"):
        load_templates(tmp_path)
    (tmp_path / "other.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TemplateError, match="other.json: not valid JSON"):
        load_templates(tmp_path)


# ---- SMS length ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,encoding,units,segments", [
    ("", "GSM-7", 0, 0),
    ("a", "GSM-7", 1, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),          # extension characters count double
    ("€" * 81, "GSM-7", 162, 2),
    ("[]{}" * 40, "GSM-7", 320, 3),
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # the escape pair is not split: it moves whole
    ("£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà@\n\r", "GSM-7", 44, 1),
    ("ç", "UCS-2", 1, 1),                 # only capital Ç is in the GSM alphabet
    ("We’ll", "UCS-2", 5, 1),             # one curly apostrophe makes the whole text UCS-2
    ("a" * 159 + "’", "UCS-2", 160, 3),
    ("ł" * 70, "UCS-2", 70, 1),
    ("ł" * 71, "UCS-2", 71, 2),
    ("ł" * 134, "UCS-2", 134, 2),
    ("ł" * 135, "UCS-2", 135, 3),
    ("م" * 70, "UCS-2", 70, 1),
    ("😀" * 35, "UCS-2", 70, 1),          # outside the BMP: two units each
    ("😀" * 36, "UCS-2", 72, 2),
    ("ł" * 66 + "😀" + "ł" * 66, "UCS-2", 134, 3),  # the surrogate pair is not split
])
def test_segments(text, encoding, units, segments):
    size = sms.measure(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)
    assert sms.segments(text) == segments
    assert sms.encoding(text) == encoding


def test_non_gsm7_characters_names_the_culprits():
    assert sms.non_gsm7_characters("It’s – it’s fine") == ["’", "–"]
    assert sms.non_gsm7_characters("Plain text, 999.") == []
