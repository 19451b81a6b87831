"""The configuration: every variable checked, every problem reported at once, naming the variable and what
it expects and never quoting a secret; and what running for real (`serve`) needs on top."""
from __future__ import annotations

import re

import pytest

from integrations.govuk_notify.simulator import DEFAULT_EMAIL_TEMPLATE_ID, DEFAULT_SMS_TEMPLATE_ID, DEMO_API_KEY
from rxapp.domain.attendance import DEFAULT_STATUS_CODES
from rxapp.plumbing.config import ROOT, ConfigError, check, load_settings

SECRET = "s3cr3t-value-that-must-never-be-printed-0123456789"
CALLBACK = "callback-token-that-must-never-be-printed-0123"


def production(**overrides) -> dict[str, str]:
    """A configuration fit to run for real; tests take one thing away or break it."""
    env = {
        "SECRET_KEY": SECRET,
        "PUBLIC_BASE_URL": "https://victims.force.police.uk",
        "COOKIE_SECURE": "true",
        "NOTIFY_API_KEY": DEMO_API_KEY,
        "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID,
        "NOTIFY_EMAIL_TEMPLATE_ID": DEFAULT_EMAIL_TEMPLATE_ID,
        "NOTIFY_CALLBACK_TOKEN": CALLBACK,
        "STORM_FEED_URL": "wss://storm-gateway.force.local/feed",
        "NICHE_FEED_URL": "https://niche-adapter.force.local",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def problems(env, production_mode=False) -> list[str]:
    return check(env, production=production_mode)


def one_problem(env, production_mode=False) -> str:
    found = problems(env, production_mode)
    assert len(found) == 1, found
    return found[0]


# ---- defaults and values read ------------------------------------------------------------------------


def test_an_empty_environment_is_a_working_development_configuration(tmp_path):
    s = load_settings({"VJ_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'victim_journey.db'}"
    assert s.public_base_url == "http://localhost:3000"
    assert s.allowed_origins == ("http://localhost:3000",)
    assert s.redis_url is None and s.failpoint is None
    assert s.status_codes == DEFAULT_STATUS_CODES
    assert (s.listen_host, s.listen_port) == ("127.0.0.1", 3000)
    assert not list(tmp_path.iterdir()), "loading the configuration writes nothing"


def test_the_secret_is_generated_once_on_first_use_and_kept(tmp_path):
    first = load_settings({"VJ_DATA_DIR": str(tmp_path)})
    key = first.secret_key
    assert len(key) >= 32 and (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_settings({"VJ_DATA_DIR": str(tmp_path)}).secret_key == key
    assert load_settings({"VJ_DATA_DIR": str(tmp_path), "SECRET_KEY": SECRET}).secret_key == SECRET


def test_secrets_stay_out_of_repr():
    s = load_settings(production(DATABASE_URL="postgresql://vj:dbpassword@db/vj", REDIS_URL="redis://:redispw@r:6379/0",
                                 SMTP_URL="smtp://u:smtppw@relay:587", STORM_FEED_TOKEN="stormtoken",
                                 NICHE_FEED_TOKEN="nichetoken"))
    text = repr(s)
    for secret in (SECRET, CALLBACK, DEMO_API_KEY, "dbpassword", "redispw", "smtppw", "stormtoken", "nichetoken"):
        assert secret not in text


def test_status_codes_are_the_contract_defaults_with_the_force_s_changes():
    s = load_settings({"STATUS_CODES": '{"9": "en_route", "5": "committed"}'})
    assert s.status_codes["9"] == "en_route" and s.status_codes["5"] == "committed"
    assert s.status_codes["6"] == DEFAULT_STATUS_CODES["6"]


def test_allowed_origins_are_the_public_address_and_the_extra_one():
    s = load_settings({"PUBLIC_BASE_URL": "https://victims.force.police.uk/", "EXTRA_ORIGIN": "https://proxy.local"})
    assert s.public_base_url == "https://victims.force.police.uk"
    assert s.allowed_origins == ("https://victims.force.police.uk", "https://proxy.local")


def test_every_number_and_flag_is_read():
    s = load_settings({"TRACK_LINK_TTL_HOURS": "48", "STAFF_SESSION_HOURS": "8", "STAFF_LOCKOUT_ATTEMPTS": "3",
                       "STAFF_LOCKOUT_MINUTES": "30", "NICHE_POLL_SECONDS": "5", "DEADLINE_SWEEP_SECONDS": "10",
                       "COOKIE_SECURE": "yes", "RUN_BACKGROUND_JOBS": "off", "LISTEN_PORT": "8080",
                       "LISTEN_HOST": "0.0.0.0", "VJ_FAILPOINT": "after_provider_answer"})
    assert (s.link_ttl_hours, s.session_hours, s.lockout_attempts, s.lockout_minutes) == (48, 8, 3, 30)
    assert (s.niche_poll_seconds, s.sweep_seconds, s.listen_port, s.listen_host) == (5, 10, 8080, "0.0.0.0")
    assert s.cookie_secure is True and s.run_background_jobs is False
    assert s.failpoint == "after_provider_answer"


# ---- each malformed value ----------------------------------------------------------------------------


@pytest.mark.parametrize("name, value, expected", [
    ("DATABASE_URL", "mysql://vj:pw@db/vj", "DATABASE_URL must start with sqlite:/// (a file"),
    ("DATABASE_URL", "postgres://vj:pw@db/vj", "or postgresql://"),
    ("SECRET_KEY", "too-short", "SECRET_KEY must be at least 32 characters"),
    ("PUBLIC_BASE_URL", "victims.force.police.uk", "PUBLIC_BASE_URL must be a URL starting with http:// or https://"),
    ("PUBLIC_BASE_URL", "ftp://victims.force.police.uk", "PUBLIC_BASE_URL must be a URL starting with http://"),
    ("PUBLIC_BASE_URL", "https://force.police.uk/victims", "with nothing after the host and port"),
    ("PUBLIC_BASE_URL", "https://host:port", "PUBLIC_BASE_URL must be"),
    ("EXTRA_ORIGIN", "https://proxy.local/path", "EXTRA_ORIGIN must be a URL starting with http://"),
    ("REDIS_URL", "http://redis.local", "REDIS_URL must be a URL starting with redis:// or rediss://"),
    ("STORM_FEED_URL", "https://storm.local/feed", "STORM_FEED_URL must be a URL starting with ws:// or wss://"),
    ("NICHE_FEED_URL", "niche.local", "NICHE_FEED_URL must be a URL starting with http:// or https://"),
    ("ROUTING_URL", "osrm:5000", "ROUTING_URL must be a URL starting with http://"),
    ("NOTIFY_BASE_URL", "api.notifications.service.gov.uk", "NOTIFY_BASE_URL must be a URL starting with http://"),
    ("GRADE_TARGETS", "{not json", "GRADE_TARGETS is not valid JSON"),
    ("GRADE_TARGETS", '{"PRIORITY": 0}', "GRADE_TARGETS PRIORITY must be between 1 and"),
    ("GRADE_TARGETS", '{"URGENT": 10}', "GRADE_TARGETS has an unknown key 'URGENT'"),
    ("STATUS_CODES", "{not json", "STATUS_CODES is not valid JSON"),
    ("STATUS_CODES", '{"9": "arrived"}', "STATUS_CODES must be a JSON object mapping codes to one of"),
    ("STATUS_CODES", '["9"]', "STATUS_CODES must be a JSON object"),
    ("RURAL_AREAS", "[[1, 2, 3]]", "each RURAL_AREAS entry must be four numbers"),
    ("RURAL_AREAS", "nope", "RURAL_AREAS is not valid JSON"),
    ("TRACK_LINK_TTL_HOURS", "a day", "TRACK_LINK_TTL_HOURS must be a number between 1 and 744, not 'a day'"),
    ("TRACK_LINK_TTL_HOURS", "0", "TRACK_LINK_TTL_HOURS must be a number between 1 and 744, not 0"),
    ("STAFF_SESSION_HOURS", "48", "STAFF_SESSION_HOURS must be a number between 0.25 and 24"),
    ("STAFF_SESSION_HOURS", "nan", "STAFF_SESSION_HOURS must be a number"),
    ("STAFF_LOCKOUT_ATTEMPTS", "2.5", "STAFF_LOCKOUT_ATTEMPTS must be a whole number between 1 and 100"),
    ("STAFF_LOCKOUT_ATTEMPTS", "0", "STAFF_LOCKOUT_ATTEMPTS must be a whole number between 1 and 100, not 0"),
    ("STAFF_LOCKOUT_MINUTES", "-5", "STAFF_LOCKOUT_MINUTES must be a number between 1 and 1440"),
    ("NICHE_POLL_SECONDS", "0", "NICHE_POLL_SECONDS must be a number between 1 and 3600"),
    ("DEADLINE_SWEEP_SECONDS", "1e9", "DEADLINE_SWEEP_SECONDS must be a number between 1 and 3600"),
    ("LISTEN_PORT", "70000", "LISTEN_PORT must be a whole number between 1 and 65535"),
    ("COOKIE_SECURE", "maybe", "COOKIE_SECURE must be true or false, not 'maybe'"),
    ("RUN_BACKGROUND_JOBS", "2", "RUN_BACKGROUND_JOBS must be true or false"),
    ("ALLOW_INSECURE_HTTP", "sure", "ALLOW_INSECURE_HTTP must be true or false"),
    ("STORM_FEED_DISABLED", "y", "STORM_FEED_DISABLED must be true or false"),
    ("EMAIL_VIA", "fax", "EMAIL_VIA must be one of notify, smtp, not 'fax'"),
    ("EMAIL_FROM", "victim updates", "EMAIL_FROM must be an email address"),
    ("VJ_FAILPOINT", "somewhere", "VJ_FAILPOINT is for fault tests only"),
    ("VJ_CODE_RULES", "/nowhere/code.json", "VJ_CODE_RULES must name a Victims' Code rules file that exists"),
    ("SMTP_URL", "http://relay.local", "SMTP_URL must start with smtp://, smtp+starttls:// or smtps://"),
    ("SMTP_URL", "smtp://:pw-only@relay.local", "SMTP_URL has a password but no user name"),
])
def test_a_malformed_value_is_named_with_what_is_expected(name, value, expected):
    problem = one_problem({name: value})
    assert problem.startswith(name) and expected in problem, problem
    with pytest.raises(ConfigError) as raised:
        load_settings({name: value})
    assert raised.value.problems == [problem]


def test_a_malformed_notify_key_is_named_and_never_quoted():
    key = "my-key-not-a-uuid-0123456789abcdef"
    problem = one_problem({"NOTIFY_API_KEY": key, "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID,
                           "NOTIFY_EMAIL_TEMPLATE_ID": DEFAULT_EMAIL_TEMPLATE_ID})
    assert problem.startswith("NOTIFY_API_KEY") and "{key_name}-{service_id}-{secret}" in problem
    assert key not in problem and "0123456789abcdef" not in problem


def test_template_ids_must_be_uuids_when_a_notify_key_is_set():
    found = problems({"NOTIFY_API_KEY": DEMO_API_KEY, "NOTIFY_SMS_TEMPLATE_ID": "body-template",
                      "NOTIFY_EMAIL_TEMPLATE_ID": ""})
    assert found[0].startswith("NOTIFY_SMS_TEMPLATE_ID must be the template's ID from Notify, a UUID")
    assert found[1].startswith("NOTIFY_EMAIL_TEMPLATE_ID is not set: with NOTIFY_API_KEY set")
    assert len(found) == 2
    # Email over SMTP needs no Notify email template.
    assert problems({"NOTIFY_API_KEY": DEMO_API_KEY, "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID,
                     "EMAIL_VIA": "smtp", "SMTP_URL": "smtp://relay.local"}) == []


def test_email_via_smtp_needs_an_smtp_url():
    assert one_problem({"EMAIL_VIA": "smtp"}).startswith("EMAIL_VIA is smtp but SMTP_URL is not set")


@pytest.mark.parametrize("feed", ["STORM", "NICHE"])
def test_a_feed_cannot_be_both_disabled_and_given(feed):
    url = "wss://storm.local/feed" if feed == "STORM" else "https://niche.local"
    problem = one_problem({f"{feed}_FEED_URL": url, f"{feed}_FEED_DISABLED": "true"})
    assert problem == f"{feed}_FEED_DISABLED is true but {feed}_FEED_URL is set: choose one"


def test_secrets_and_urls_are_never_quoted():
    env = {"SECRET_KEY": "hunter2-short", "DATABASE_URL": "mysql://vj:dbsecretpw@db/vj",
           "SMTP_URL": "smtpx://user:smtpsecretpw@relay", "REDIS_URL": "http://:redissecretpw@r",
           "STORM_FEED_URL": "https://storm/feed?token=stormsecret", "NOTIFY_API_KEY": "key-notifysecret"}
    text = "\n".join(problems(env, production_mode=True))
    for secret in ("hunter2", "dbsecretpw", "smtpsecretpw", "redissecretpw", "stormsecret", "notifysecret"):
        assert secret not in text


def test_every_problem_is_reported_together():
    env = {"DATABASE_URL": "mysql://db", "SECRET_KEY": "short", "GRADE_TARGETS": "{", "STATUS_CODES": "{",
           "RURAL_AREAS": "{", "COOKIE_SECURE": "perhaps", "EMAIL_VIA": "pigeon", "LISTEN_PORT": "0"}
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    named = [p.split()[0] for p in raised.value.problems]
    assert named == ["DATABASE_URL", "SECRET_KEY", "STATUS_CODES", "GRADE_TARGETS", "RURAL_AREAS", "EMAIL_VIA",
                     "COOKIE_SECURE", "LISTEN_PORT"]
    assert str(raised.value).startswith("the configuration has 8 problems:\n  - DATABASE_URL")
    assert isinstance(raised.value, ValueError)


# ---- running for real ---------------------------------------------------------------------------------


def test_a_complete_production_configuration_has_no_problems():
    assert problems(production(), production_mode=True) == []
    assert problems(production(NOTIFY_API_KEY=None, NOTIFY_SMS_TEMPLATE_ID=None, NOTIFY_EMAIL_TEMPLATE_ID=None,
                               NOTIFY_CALLBACK_TOKEN=None, SMTP_URL="smtps://vj:pw@relay.force.local",
                               EMAIL_VIA="smtp", EMAIL_FROM="victim-updates@force.police.uk"),
                    production_mode=True) == []
    assert problems(production(STORM_FEED_URL=None, STORM_FEED_DISABLED="true", NICHE_FEED_URL=None,
                               NICHE_FEED_DISABLED="true"), production_mode=True) == []


def test_development_checks_only_the_form():
    assert problems({}, production_mode=False) == []
    assert len(problems({}, production_mode=True)) == 5


@pytest.mark.parametrize("overrides, expected", [
    ({"SECRET_KEY": None}, "SECRET_KEY is not set: running for real needs an explicit server secret"),
    ({"PUBLIC_BASE_URL": None}, "PUBLIC_BASE_URL is not set: it must be the https:// address"),
    ({"PUBLIC_BASE_URL": "http://victims.force.local", "COOKIE_SECURE": None},
     "PUBLIC_BASE_URL must be an https:// address"),
    ({"COOKIE_SECURE": None}, "COOKIE_SECURE must be true when PUBLIC_BASE_URL is https"),
    ({"COOKIE_SECURE": "false"}, "COOKIE_SECURE must be true when PUBLIC_BASE_URL is https"),
    ({"NOTIFY_API_KEY": None, "NOTIFY_SMS_TEMPLATE_ID": None, "NOTIFY_EMAIL_TEMPLATE_ID": None},
     "no way to send messages: set NOTIFY_API_KEY"),
    ({"NOTIFY_CALLBACK_TOKEN": None}, "NOTIFY_CALLBACK_TOKEN is not set: with Notify in use"),
    ({"NOTIFY_CALLBACK_TOKEN": "short-token"}, "NOTIFY_CALLBACK_TOKEN must be at least 32 characters"),
    ({"NOTIFY_BASE_URL": "http://127.0.0.1:8766"}, "NOTIFY_BASE_URL must be an https:// address"),
    ({"STORM_FEED_URL": None}, "STORM_FEED_URL is not set: point it at the STORM gateway's WebSocket, or set "
                               "STORM_FEED_DISABLED=true"),
    ({"NICHE_FEED_URL": None}, "NICHE_FEED_URL is not set: point it at the records change feed, or set "
                               "NICHE_FEED_DISABLED=true"),
    ({"VJ_FAILPOINT": "after_provider_answer"}, "VJ_FAILPOINT is set: it kills the sender on purpose"),
    ({"SMTP_URL": "smtp://relay.force.local"}, "EMAIL_FROM is not set: with SMTP_URL set"),
    ({"QUIET_HOURS": "off"}, "QUIET_HOURS leaves out part of the Code's 21:00 to 08:00"),
    ({"QUIET_HOURS": "22:00-08:00"}, "QUIET_HOURS leaves out part of the Code's 21:00 to 08:00"),
])
def test_running_for_real_refuses_what_is_missing(overrides, expected):
    env = production(**overrides)
    assert problems(env, production_mode=False) == []
    problem = one_problem(env, production_mode=True)
    assert problem.startswith(expected), problem
    assert SECRET not in problem and CALLBACK not in problem


@pytest.mark.parametrize("overrides, name", [
    ({"PUBLIC_BASE_URL": "victims.force.police.uk"}, "PUBLIC_BASE_URL"),
    ({"COOKIE_SECURE": "yes please"}, "COOKIE_SECURE"),
    ({"PUBLIC_BASE_URL": "http://victims.force.local", "ALLOW_INSECURE_HTTP": "ok"}, "ALLOW_INSECURE_HTTP"),
    ({"NOTIFY_BASE_URL": "notify.local"}, "NOTIFY_BASE_URL"),
    ({"STORM_FEED_URL": None, "STORM_FEED_DISABLED": "please"}, "STORM_FEED_DISABLED"),
    ({"VJ_FAILPOINT": "elsewhere"}, "VJ_FAILPOINT"),
    ({"VJ_CODE_RULES": "/nowhere/code.json"}, "VJ_CODE_RULES"),
])
def test_a_malformed_value_is_reported_once_when_running_for_real(overrides, name):
    assert one_problem(production(**overrides), production_mode=True).startswith(name)


def test_plain_http_only_with_the_explicit_flag():
    env = production(PUBLIC_BASE_URL="http://victims.force.local", COOKIE_SECURE="false",
                     ALLOW_INSECURE_HTTP="true")
    assert problems(env, production_mode=True) == []


def test_a_rules_file_that_does_not_load_is_refused_for_real(tmp_path):
    rules = tmp_path / "code.json"
    rules.write_text('{"rights": []}')
    env = production(VJ_CODE_RULES=str(rules))
    assert problems(env, production_mode=False) == []
    assert one_problem(env, production_mode=True).startswith("VJ_CODE_RULES: the rules file is not usable")


# ---- the documentation keeps up -------------------------------------------------------------------------

ENV_EXAMPLE = ROOT / "deploy" / "env.example"


class RecordingEnv(dict):
    """An environment that remembers every variable asked for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


def example_lines() -> tuple[dict[str, str], dict[str, str]]:
    """(active, commented-out) assignments in deploy/env.example."""
    active, commented = {}, {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^(#?)([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            (commented if match[1] else active)[match[2]] = match[3]
    return active, commented


def test_every_variable_read_is_documented_in_env_example_and_the_readme():
    env = RecordingEnv(production(SMTP_URL="smtp://relay.local"))
    check(env, production=True)
    asked = env.asked - {"PATH", "PYTHONPATH"}
    active, commented = example_lines()
    documented = set(active) | set(commented) | set(re.findall(r"\b([A-Z][A-Z0-9_]{3,})=", ENV_EXAMPLE.read_text()))
    assert asked - documented == set()
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert {name for name in asked if f"`{name}`" not in table} == set()


def test_env_example_is_valid_once_its_blanks_are_filled():
    active, commented = example_lines()
    blanks = {"SECRET_KEY": SECRET, "NOTIFY_API_KEY": DEMO_API_KEY, "NOTIFY_CALLBACK_TOKEN": CALLBACK,
              "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID, "NOTIFY_EMAIL_TEMPLATE_ID": DEFAULT_EMAIL_TEMPLATE_ID,
              "STORM_FEED_TOKEN": "storm-token", "NICHE_FEED_TOKEN": "niche-token"}
    assert {name for name, value in active.items() if not value} == set(blanks)
    assert check({**active, **blanks}, production=True) == []
    for name, value in commented.items():
        if name not in ("VJ_CODE_RULES",):  # names a file the force writes
            assert check({name: value}, production=False) == [], name


def test_quiet_hours_are_the_codes_unless_told_and_a_wider_window_is_allowed_for_real():
    from datetime import time

    from rxapp.plumbing.config import load_settings

    assert load_settings({}).quiet_hours == (time(21, 0), time(8, 0))
    assert load_settings({"QUIET_HOURS": "20:30-09:00"}).quiet_hours == (time(20, 30), time(9, 0))
    assert load_settings({"QUIET_HOURS": "off"}).quiet_hours == (time(0, 0), time(0, 0))
    assert problems(production(QUIET_HOURS="20:30-09:00"), production_mode=True) == []
    with pytest.raises(ValueError, match="QUIET_HOURS must be two local times such as 21:00-08:00, or off"):
        load_settings({"QUIET_HOURS": "after nine"})
