"""The victim portal's Reflex states: the sign-in page's words and notice (`PortalStart`), and the case page
(`PortalCase`), private to one tab.

Who is acting is resolved afresh on every handler call from the socket's own Cookie header (held outside any
state by rxapp.staff.states) through `rxapp.portal.access`; never from a var, an argument or what `on_load`
found earlier. Every argument is checked for type and size before anything else. Every var holds only what this
victim may see: their case's view, their own conversation and preferences, and the page's words; the case
victim's number stays in a backend var and nothing here names any other record.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

import reflex as rx

from rxapp import languages
from rxapp.domain.conversation import MAX_COMMENT_CHARS, MAX_MESSAGE_CHARS, message_refusal
from rxapp.plumbing.links import well_formed
from rxapp.portal import actions
from rxapp.portal.identity import PortalRefusal, VictimIdentity
from rxapp.staff.states import cookie_header

NOTICES = {("sent", "1"): "signin.sent", ("error", "code"): "signin.error_code", ("error", "wait"): "signin.error_wait"}
CHOICE_LIMIT = 40  # no preference value is longer; anything longer is refused unread
SCORES = ("1", "2", "3", "4", "5")


def words(lang: str) -> dict[str, str]:
    """The portal's own words in `lang` ("table.key" under [portal])."""
    return languages.labels(lang, "portal")


def say(lang: str, key: str) -> str:
    """A refusal in words: `portal.refused.<key>`, or the generic one for a key we have no words for."""
    found = languages.texts(lang).get(f"portal.refused.{key}")
    return found if found is not None else languages.text(lang, "portal.refused.not_allowed")


def _query(state: rx.State, name: str) -> str:
    value = state.router.url.query_parameters.get(name, "")
    return value if isinstance(value, str) and len(value) <= 20 else ""


class PortalStart(rx.State):
    """The sign-in and signed-out pages: the same for every link (nothing here looks anything up); English
    unless the address asks for another of our languages (`?lang=pl`)."""

    @rx.var(cache=False)
    def start_lang(self) -> str:
        return languages.resolve_language(_query(self, "lang"))

    @rx.var(cache=False)
    def start_dir(self) -> str:
        return languages.direction(self.start_lang)

    @rx.var(cache=False)
    def start_words(self) -> dict[str, str]:
        return words(self.start_lang)

    @rx.var(cache=False)
    def notice(self) -> str:
        for (name, value), key in NOTICES.items():
            if _query(self, name) == value:
                return words(self.start_lang)[key]
        return ""

    @rx.var(cache=False)
    def link_in_address(self) -> str:
        """The link from the address, for the forms' hidden field: only when it has a link's shape (the routes
        answer the same for a well-formed link that opens nothing)."""
        path = str(self.router.url.path).rstrip("/")
        token = path.rsplit("/", 1)[-1] if path.startswith("/portal/start/") else ""
        return token if well_formed(token) else ""


EMPTY_CASE: dict[str, Any] = {
    "reference": "", "reported": "", "status": "", "oic": "", "timeline": [], "next_steps": [], "rights": [],
    "support": [], "compensation": [], "complaints": [], "right_to_review": [], "attendance": {}, "labels": {},
}


class PortalCase(rx.State):
    """One tab's view of the signed-in victim's case page."""

    checked: bool = False  # on_load has run
    signed_in: bool = False
    lang: str = "en"
    dir: str = "ltr"
    words: dict[str, str] = {}
    labels: dict[str, str] = {}  # the case content's fixed words (rxapp/portal/views.py)
    reference: str = ""
    reported: str = ""
    status: str = ""
    oic: str = ""
    timeline: list[dict[str, str]] = []
    next_steps: list[dict[str, str]] = []
    rights: list[str] = []
    support: list[dict[str, str]] = []
    compensation: list[str] = []
    complaints: list[str] = []
    right_to_review: list[str] = []
    attendance: dict[str, str] = {}
    has_attendance: bool = False
    messages: list[dict[str, str]] = []
    message_notice: str = ""
    message_sent: bool = False  # the notice says it went (else it says why not)
    draft_count: int = 0
    draft_key: int = 0  # a new message box (empty) once a message has gone; a refused one keeps its text
    pref_channel: str = ""
    pref_language: str = ""
    pref_frequency: str = ""
    pref_optout_all: bool = False
    pref_optout_sms: bool = False
    pref_optout_email: bool = False
    channels: list[dict[str, str]] = []
    pref_languages: list[dict[str, str]] = []
    frequencies: list[dict[str, str]] = []
    pref_notice: str = ""
    pref_version: int = 0  # re-creates the preference fields when their stored values arrive
    survey_kind: str = ""  # "attendance", "case", or "" when no survey is offered
    survey_done: str = ""  # "thanks" or "declined" once the victim has answered
    survey_notice: str = ""

    _case_victim: int = 0  # whose page this tab shows: for the live wait only, never trusted for access
    _watcher: int = 0  # the generation of the one live wait this tab may run

    @rx.var
    def counter_text(self) -> str:
        template = self.words.get("messages.counter", "")
        return languages.fill(template, {"count": self.draft_count, "max": MAX_MESSAGE_CHARS}) if template else ""

    # ---- who is acting ----------------------------------------------------------------------------------

    async def _who(self) -> Optional[VictimIdentity]:
        """The victim whose live session this socket's cookie carries, checked now; None otherwise, and then
        the page shows only that the session has ended."""
        who = await asyncio.to_thread(actions.who_is_signed_in, cookie_header(self))
        if who is None or (self.signed_in and who.case_victim_id != self._case_victim):
            self._sign_out_here()
            return None
        return who

    def _sign_out_here(self) -> None:
        """Nothing of the case is left in this tab; the page says the session has ended."""
        lang = self.lang if self.signed_in else "en"
        for name, value in EMPTY_CASE.items():
            setattr(self, name, value)
        self.messages, self.channels, self.pref_languages, self.frequencies = [], [], [], []
        self.message_notice = self.pref_notice = self.survey_notice = self.survey_done = self.survey_kind = ""
        self.pref_channel = self.pref_language = self.pref_frequency = ""
        self.pref_optout_all = self.pref_optout_sms = self.pref_optout_email = False
        self.message_sent, self.draft_count, self.has_attendance = False, 0, False
        self.signed_in, self.checked, self._case_victim = False, True, 0
        self._watcher += 1  # any live wait stops
        self.lang, self.dir, self.words = lang, languages.direction(lang), words(lang)

    def _refused(self, refusal: PortalRefusal) -> str:
        return say(self.lang, refusal.key)

    # ---- filling the page -------------------------------------------------------------------------------

    def _apply(self, data: dict) -> None:
        view = data["view"]
        self.lang = languages.resolve_language(str(view.get("lang") or "en"))
        self.dir = languages.direction(self.lang)
        self.words = words(self.lang)
        for name in EMPTY_CASE:
            setattr(self, name, view.get(name, EMPTY_CASE[name]))
        self.has_attendance = bool(self.attendance)
        self.messages = data["messages"]
        self._apply_preferences(data["preferences"])
        self.survey_kind = data["survey"]
        self.signed_in, self.checked = True, True

    def _apply_view(self, data: dict) -> None:
        """A live change: the case and the conversation as they now stand, in the language the page shows. What
        the victim is doing is left alone: the preference form (they may be part way through it), notices, and
        a survey they have just answered."""
        view = data["view"]
        if languages.resolve_language(str(view.get("lang") or "en")) != self.lang:
            self._apply(data)  # the victim chose another language (in another tab): the whole page changes
            return
        for name in EMPTY_CASE:
            value = view.get(name, EMPTY_CASE[name])
            if getattr(self, name) != value:
                setattr(self, name, value)
        self.has_attendance = bool(self.attendance)
        if data["messages"] != self.messages:
            self.messages = data["messages"]
        if not self.survey_done:
            self.survey_kind = data["survey"]

    def _apply_preferences(self, p: dict) -> None:
        self.pref_channel, self.pref_language = p["channel"], p["language"]
        self.pref_frequency = p["routine_every_days"]
        self.pref_optout_all, self.pref_optout_sms, self.pref_optout_email = (
            p["opt_out_all"], p["opt_out_sms"], p["opt_out_email"])
        w = self.words
        self.channels = [{"value": c, "label": w.get(f"prefs.channel_{c.lower()}", c)} for c in p["channels"]]
        self.pref_languages = [{"value": x["code"], "label": x["name"]} for x in p["languages"]]
        self.frequencies = [{"value": d, "label": languages.fill(w["prefs.every"], {"days": d})}
                            for d in p["frequencies"]]
        self.pref_version += 1

    async def _load(self, who: VictimIdentity) -> bool:
        data = await asyncio.to_thread(actions.load_page, who)
        if data is None:
            self._sign_out_here()
            return False
        self._case_victim = who.case_victim_id
        self._apply(data)
        return True

    @rx.event
    async def open_page(self):
        """on_load of /portal/case: the signed-in victim's case, then the live wait for replies."""
        self.signed_in = False  # what this tab showed before is checked again, as if new
        who = await self._who()
        if who is None:
            return None
        if not await self._load(who):
            return None
        self.message_notice = self.pref_notice = self.survey_notice = self.survey_done = ""
        return PortalCase.watch_for_replies

    @rx.var
    def page_title(self) -> str:
        """The browser's title: the page's, in the victim's language once it has loaded."""
        return self.words.get("page.title") or languages.text("en", "portal.page.title")

    # ---- messages ---------------------------------------------------------------------------------------

    @rx.event
    async def count_draft(self, value: str):
        """The character counter under the message box (the count only; the text stays in the browser)."""
        self.draft_count = len(value) if isinstance(value, str) else 0
        if not self.signed_in or await self._who() is None:
            return

    @rx.event
    async def send_message(self, form_data: dict):
        text = form_data.get("text") if isinstance(form_data, dict) else None
        problem = message_refusal(text, MAX_MESSAGE_CHARS)  # sizes first: a huge text is refused unread
        if problem is not None:
            self.message_sent, self.message_notice = False, say(self.lang, problem)
            return
        who = await self._who()
        if who is None:
            return
        try:
            self.messages = await asyncio.to_thread(actions.send_message, who, text)
        except PortalRefusal as refusal:
            self.message_sent, self.message_notice = False, self._refused(refusal)
            return
        self.message_sent, self.draft_count = True, 0
        self.message_notice = languages.text(self.lang, "portal.messages.sent")
        self.draft_key += 1

    @rx.event
    async def ask_update(self):
        who = await self._who()
        if who is None:
            return
        try:
            self.messages = await asyncio.to_thread(actions.ask_for_update, who)
        except PortalRefusal as refusal:
            self.message_sent, self.message_notice = False, self._refused(refusal)
            return
        self.message_sent, self.message_notice = True, languages.text(self.lang, "portal.messages.asked")

    @rx.event(background=True)
    async def watch_for_replies(self):
        """Waits for a change to this victim's case or conversation (or PORTAL_LIVE_RECHECK seconds, for changes
        made by another worker), checks the session again and shows the case as it now stands; stops when the
        session has ended, the socket has gone, or a newer wait has started."""
        async with self:
            self._watcher += 1  # this wait is the newest: any older one of this tab stops when it wakes
            mine, case_victim = self._watcher, self._case_victim
        recheck = actions.live_recheck_seconds()
        while case_victim:
            await actions.wait_for_change(case_victim, recheck)
            async with self:
                if self._watcher != mine or not self.signed_in:
                    return
            header = cookie_header(self)
            if not header:
                return  # the socket has gone; a reconnect loads the page (and starts a wait) afresh
            who = await asyncio.to_thread(actions.who_is_signed_in, header)
            if who is None or who.case_victim_id != case_victim:
                async with self:
                    if self._watcher == mine:
                        self._sign_out_here()
                return
            # The case and the conversation as they now stand: woken by a change in this process (a message, a
            # reply, a records change), or after PORTAL_LIVE_RECHECK for changes made by another process.
            data = await asyncio.to_thread(actions.load_page, who)
            async with self:
                if self._watcher != mine:
                    return
                if data is None:
                    self._sign_out_here()
                    return
                self._apply_view(data)

    # ---- preferences ------------------------------------------------------------------------------------

    @rx.event
    async def save_preferences(self, form_data: dict):
        changes = _preference_changes(form_data)
        if changes is None:
            self.pref_notice = say(self.lang, "bad_choice")
            return
        who = await self._who()
        if who is None:
            return
        before = self.lang
        try:
            stored = await asyncio.to_thread(actions.save_preferences, who, changes)
        except PortalRefusal as refusal:
            self.pref_notice = self._refused(refusal)
            return
        if stored["language"] and languages.resolve_language(stored["language"]) != before:
            who = await self._who()  # the identity carries the language the pages speak
            if who is None or not await self._load(who):
                return None
        else:
            self._apply_preferences(stored)
        self.pref_notice = languages.text(self.lang, "portal.prefs.saved")

    # ---- the survey -------------------------------------------------------------------------------------

    @rx.event
    async def answer_survey(self, form_data: dict):
        scores = _survey_answer(form_data)
        if scores is None:
            comment = form_data.get("comment") if isinstance(form_data, dict) else None
            too_long = isinstance(comment, str) and len(comment) > MAX_COMMENT_CHARS
            self.survey_notice = say(self.lang, "too_long" if too_long else "bad_choice")
            return
        who = await self._who()
        if who is None:
            return
        try:
            await asyncio.to_thread(actions.answer_survey, who, *scores)
        except PortalRefusal as refusal:
            self.survey_notice = self._refused(refusal)
            return
        self.survey_done, self.survey_notice = "thanks", ""

    @rx.event
    async def decline_survey(self):
        who = await self._who()
        if who is None:
            return
        try:
            await asyncio.to_thread(actions.decline_survey, who)
        except PortalRefusal as refusal:
            self.survey_notice = self._refused(refusal)
            return
        self.survey_done, self.survey_notice = "declined", ""


def _short(form_data: dict, name: str) -> Optional[str]:
    value = form_data.get(name, "")
    if isinstance(value, bool):
        return "on" if value else ""
    return value.strip() if isinstance(value, str) and len(value) <= CHOICE_LIMIT else None


def _preference_changes(form_data: Any) -> Optional[dict]:
    """The preference form's fields as the service takes them; None when any is not a short string (the
    service decides whether each choice is one the victim may make)."""
    if not isinstance(form_data, dict) or len(form_data) > 10:
        return None
    fields = {name: _short(form_data, name) for name in ("channel", "language", "every", "optout_all",
                                                         "optout_sms", "optout_email")}
    if any(value is None for value in fields.values()):
        return None
    if not fields["every"].isdigit():
        return None
    changes: dict[str, Any] = {"routine_every_days": int(fields["every"]),
                               "opt_out_all": bool(fields["optout_all"]), "opt_out_sms": bool(fields["optout_sms"]),
                               "opt_out_email": bool(fields["optout_email"])}
    for name in ("channel", "language"):  # a victim with no channel yet leaves it unchosen
        if fields[name]:
            changes[name] = fields[name]
    return changes


def _survey_answer(form_data: Any) -> Optional[tuple[int, int, str]]:
    """(informed, overall, comment) from the survey form; None when a score is missing or not 1-5, or the
    comment is too long."""
    if not isinstance(form_data, dict):
        return None
    informed, overall, comment = form_data.get("informed"), form_data.get("overall"), form_data.get("comment", "")
    if informed not in SCORES or overall not in SCORES:
        return None
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        return None
    return int(informed), int(overall), comment
