"""The pages' translation files: every text in every language, the same placeholders, the right direction; and the
rules that choose what the victim's page says (the situation, the advice) and where to get support."""
from __future__ import annotations

import pytest

from rxapp import languages
from rxapp.domain import attendance as rules
from rxapp.domain.attendance import PageFacts, Situation
from rxapp.domain.support import DEFAULT_SUPPORT_CONTACTS, parse_support_contacts


def test_every_language_has_every_text_with_the_same_placeholders():
    assert languages.check_all() == []
    english = languages.texts("en")
    for lang in languages.LANGUAGES:
        assert set(languages.texts(lang)) == set(english), lang


def test_the_checker_sees_a_missing_text_a_wrong_placeholder_and_a_wrong_direction(tmp_path):
    for lang in languages.LANGUAGES:
        (tmp_path / f"{lang}.toml").write_text((languages.LOCALES_DIR / f"{lang}.toml").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    pl = (tmp_path / "pl.toml").read_text(encoding="utf-8")
    pl = pl.replace('live = "Zaktualizowano o {time}.', 'live = "Zaktualizowano o {czas}.')
    pl = pl.replace('history = "Co się wydarzyło"\n', "")
    (tmp_path / "pl.toml").write_text(pl, encoding="utf-8")
    ar = (tmp_path / "ar.toml").read_text(encoding="utf-8").replace('direction = "rtl"', 'direction = "ltr"')
    (tmp_path / "ar.toml").write_text(ar, encoding="utf-8")
    problems = languages.check_all(tmp_path)
    assert "pl: 'page.history' is missing" in problems
    assert any(p.startswith("pl: 'page.live' has placeholders ['czas']") for p in problems)
    assert "ar: direction is ltr, expected rtl" in problems


def test_a_broken_file_is_named_not_half_read():
    with pytest.raises(languages.TranslationError, match="not valid TOML"):
        languages.parse_locale("[page\n", "xx.toml")
    with pytest.raises(languages.TranslationError, match="malformed placeholder"):
        languages.parse_locale('[meta]\nname="x"\ndirection="ltr"\nreview="x"\n[page]\nlive = "at {time"\n', "x.toml")
    with pytest.raises(languages.TranslationError, match="needs a value for time"):
        languages.text("en", "page.live")
    with pytest.raises(languages.TranslationError, match="no text"):
        languages.text("en", "page.no_such_text")


@pytest.mark.parametrize("code,expected", [("pl", "pl"), ("pl-PL", "pl"), ("UR", "ur"), ("ar_SA", "ar"),
                                           ("cy", "en"), (None, "en"), ("", "en")])
def test_the_victims_language_or_english(code, expected):
    assert languages.resolve_language(code) == expected


def test_urdu_and_arabic_are_right_to_left():
    assert [languages.direction(lang) for lang in languages.LANGUAGES] == ["ltr", "ltr", "rtl", "rtl"]
    for lang in languages.LANGUAGES:
        assert languages.meta(lang)["direction"] == languages.direction(lang)


def test_every_translation_says_it_wants_review_by_a_native_speaker():
    for lang in ("pl", "ur", "ar"):
        assert "native speaker" in languages.meta(lang)["review"]
    readme = (languages.LOCALES_DIR / "README.md").read_text()
    assert "review by a native speaker" in readme


def facts(**kw) -> PageFacts:
    return PageFacts(**{"status": rules.LOGGED, "is_open": True, **kw})


@pytest.mark.parametrize("given,expected", [
    (facts(), Situation.WAITING),
    (facts(no_officer_apology=True), Situation.WAITING_LATE),
    (facts(diverted_count=1), Situation.DELAYED),  # never "we have not yet been able to send one"
    (facts(diverted_count=1, no_officer_apology=True), Situation.DELAYED),
    (facts(status=rules.ASSIGNED, diverted_count=1, assigned_since_diversion=True), Situation.REASSIGNED),
    (facts(status=rules.ASSIGNED), Situation.ASSIGNED),
    (facts(status=rules.SCHEDULED, appointments=1), Situation.SCHEDULED),
    (facts(status=rules.SCHEDULED, appointments=2), Situation.RESCHEDULED),
    (facts(status=rules.EN_ROUTE), Situation.EN_ROUTE),
    (facts(status=rules.AT_SCENE), Situation.AT_SCENE),
    (facts(status=rules.COMPLETED, is_open=False, disposition="ATTENDED", arrived=True), Situation.COMPLETED),
    (facts(status=rules.CLOSED, is_open=False, disposition="RESOLVED_BY_PHONE"), Situation.BY_PHONE),
    (facts(status=rules.CLOSED, is_open=False, disposition="RESOLVED_BY_PHONE", appointments=1),
     Situation.BY_PHONE_APPOINTMENT),
    (facts(status=rules.CLOSED, is_open=False, disposition="CANCELLED"), Situation.CANCELLED),
    (facts(status=rules.CLOSED, is_open=False, disposition="NO_DEPLOYMENT"), Situation.NO_DEPLOYMENT),
    (facts(status=rules.CLOSED, is_open=False, disposition="DUPLICATE"), Situation.DUPLICATE),
    (facts(status=rules.CLOSED, is_open=False, disposition="SOMETHING_NEW"), Situation.CLOSED),
])
def test_the_situation_the_page_tells(given, expected):
    assert rules.situation(given) == expected
    assert languages.text("en", f"status.{expected}") and languages.text("en", f"explain.{expected}", when="x")


@pytest.mark.parametrize("category,flags,topic", [
    ("BURGLARY_DWELLING", (), "burglary"),
    ("THEFT_FROM_VEHICLE", (), "vehicle"),
    ("THEFT_SHOPLIFTING", (), "theft"),
    ("ASSAULT_COMMON", (), "assault"),
    ("CRIMINAL_DAMAGE", (), "damage"),
    ("DOMESTIC_INCIDENT", (), "safety"),
    ("BURGLARY_DWELLING", ("DOMESTIC_ABUSE",), "safety"),  # the flag wins over the category
    ("ASSAULT_COMMON", ("SEXUAL_OFFENCE",), "safety"),
    ("CONCERN_FOR_SAFETY", (), "general"),
    ("", (), "general"),
])
def test_advice_before_the_officer_comes_by_category(category, flags, topic):
    assert rules.advice_topic(category, flags) == topic
    assert languages.texts("en")[f"advice.{topic}_1"]


def test_safety_advice_says_nothing_about_the_nature_of_the_call():
    revealing = ("domestic", "abuse", "partner", "abuser", "sexual", "assault", "violence", "evidence", "injur",
                 "hurt", "burglar", "clothes")
    for lang in ("en",):
        for key, text in languages.texts(lang).items():
            if key.startswith("advice.safety"):
                assert not [w for w in revealing if w in text.lower()], (key, text)


def test_support_contacts_default_and_configured():
    assert parse_support_contacts(None) == DEFAULT_SUPPORT_CONTACTS
    national = DEFAULT_SUPPORT_CONTACTS[1]
    assert national.phone == "0808 168 9111" and national.tel == "tel:08081689111"
    contacts = parse_support_contacts('[{"name": "Local Help", "phone": "+44 1642 000 000", '
                                      '"url": "https://help.example.org", "about": {"en": "Help.", "pl": "Pomoc."}}]')
    assert contacts[0].tel == "tel:+441642000000" and contacts[0].about["pl"] == "Pomoc."


@pytest.mark.parametrize("raw,message", [
    ("{", "not valid JSON"),
    ("[]", "a JSON list of 1 to 8"),
    ('[{"phone": "0808"}]', "needs a name"),
    ('[{"name": "X", "url": "http://x.example.org"}]', "must start with https://"),
    ('[{"name": "X", "phone": "call us"}]', "phone must be digits"),
    ('[{"name": "<b>X</b>"}]', "not plain text"),
    ('[{"name": "X", "about": {"pl": "tylko"}}]', "with English"),
    ('[{"name": "X", "email": "x@example.org"}]', "unknown field"),
])
def test_bad_support_contacts_are_refused_with_the_reason(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_support_contacts(raw)


def _copy_main_files(tmp_path):
    for lang in languages.LANGUAGES:
        (tmp_path / f"{lang}.toml").write_text((languages.LOCALES_DIR / f"{lang}.toml").read_text(encoding="utf-8"),
                                               encoding="utf-8")


def test_an_area_folder_adds_texts_and_is_checked_like_the_main_files(tmp_path):
    _copy_main_files(tmp_path)
    (tmp_path / "area").mkdir()
    for lang in languages.LANGUAGES:
        (tmp_path / "area" / f"{lang}.toml").write_text('[area]\ngreeting = "Hello {name}"\n', encoding="utf-8")
    assert languages.check_all(tmp_path) == []
    merged = languages.with_areas(tmp_path, "pl", {"page.title": "x"})
    assert merged == {"page.title": "x", "area.greeting": "Hello {name}"}
    (tmp_path / "area" / "ur.toml").unlink()
    (tmp_path / "area" / "pl.toml").write_text('[area]\ngreeting = "Cześć {imie}"\n', encoding="utf-8")
    problems = languages.check_all(tmp_path)
    assert "ur: 'area.greeting' is missing" in problems
    assert any(p.startswith("pl: 'area.greeting' has placeholders ['imie']") for p in problems)


def test_an_area_file_may_not_repeat_a_key_or_carry_meta(tmp_path):
    _copy_main_files(tmp_path)
    (tmp_path / "area").mkdir()
    (tmp_path / "area" / "en.toml").write_text('[page]\ntitle = "Again"\n', encoding="utf-8")
    assert any("'page.title' is already given by another file" in p for p in languages.check_all(tmp_path))
    with pytest.raises(languages.TranslationError, match="only the main file"):
        languages.parse_area('[meta]\nname="x"\ndirection="ltr"\nreview="x"\n', "area/en.toml")
