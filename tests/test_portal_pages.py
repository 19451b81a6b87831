"""The portal pages' own rules, without a browser: every refusal the services can give has words in every
language, and the case page's handlers take a form's fields only as the short strings and scores a real form
sends (anything else is refused before any service is asked)."""
from __future__ import annotations

import pytest

from rxapp import languages
from rxapp.portal.states import _preference_changes, _survey_answer, say, words

REFUSALS = ("not_allowed", "empty", "too_long", "already_asked", "bad_choice", "already_answered", "too_many")


@pytest.mark.parametrize("lang", languages.LANGUAGES)
def test_every_refusal_and_notice_has_words_in_every_language(lang):
    for key in REFUSALS:
        assert say(lang, key) == languages.text(lang, f"portal.refused.{key}")
    assert say(lang, "no_such_key") == languages.text(lang, "portal.refused.not_allowed")
    w = words(lang)
    for key in ("signin.sent", "signin.error_code", "signin.error_wait", "page.ended", "signedout.title",
                "messages.sent", "messages.asked", "prefs.saved", "survey.thanks"):
        assert w[key].strip()
    assert languages.fill(w["messages.counter"], {"count": 12, "max": 2000})


def test_the_preference_form_becomes_the_services_changes():
    form = {"channel": "email", "language": "pl", "every": "14", "optout_sms": "on"}
    assert _preference_changes(form) == {"channel": "email", "language": "pl", "routine_every_days": 14,
                                         "opt_out_all": False, "opt_out_sms": True, "opt_out_email": False}
    # A victim with no channel yet leaves it unchosen rather than choosing "".
    assert "channel" not in _preference_changes({"channel": "", "language": "en", "every": "28"})


@pytest.mark.parametrize("form", [
    None, "channel=email", [], {"every": "fourteen"}, {"every": ""}, {"every": "14", "channel": ["sms"]},
    {"every": "14", "language": "x" * 41}, {"every": "14", **{f"f{i}": "" for i in range(11)}},
    {"every": "14", "optout_all": {"on": True}},
])
def test_anything_a_real_form_does_not_send_is_refused(form):
    assert _preference_changes(form) is None


def test_the_survey_takes_two_scores_of_1_to_5_and_a_comment():
    assert _survey_answer({"informed": "4", "overall": "5", "comment": "<i>ok</i>"}) == (4, 5, "<i>ok</i>")
    assert _survey_answer({"informed": "1", "overall": "1"}) == (1, 1, "")
    for bad in ({"informed": "0", "overall": "5"}, {"informed": "4"}, {"informed": 4, "overall": 5},
                {"informed": "4", "overall": "6"}, {"informed": "4", "overall": "5", "comment": "x" * 2001},
                {"informed": "4", "overall": "5", "comment": 7}, None, "informed=4"):
        assert _survey_answer(bad) is None
