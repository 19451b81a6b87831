"""Configuration: the one module that reads the environment. Every variable is in the README's
"Configuration" table and in deploy/env.example.

`load_settings()` reads every variable, checks it, and reports every problem at once in one `ConfigError`,
each naming the variable and what it expects; no message quotes a secret or a URL (either may hold a
password). `check(production=True)` adds what running for real needs (`python -m rxapp.cli serve` and
`check-config`): an explicit secret, an https address, a way to send messages, both feeds or a flag saying
the force runs without one.

Kept light on purpose: rxconfig.py imports it before Reflex starts, so it imports only the standard library
at module level, and nothing here writes a file until the generated secret is first asked for.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import cached_property
from pathlib import Path
from typing import Mapping, Optional

from rxapp.plumbing.oidc_settings import OidcSettings, read_oidc_settings
from rxapp.plumbing.portal_settings import PortalSettings, read_portal_settings
from rxapp.plumbing.settings_reader import SettingsReader
from rxapp.plumbing.team_settings import TeamSettings, read_team_settings

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("VJ_DATA_DIR") or ROOT / "data")

NOTIFY_API = "https://api.notifications.service.gov.uk"
DEFAULT_EMAIL_FROM = "victim-updates@example.org"
DEFAULT_PUBLIC_BASE_URL = "http://localhost:3000"
MIN_SECRET_LENGTH = 32
MIN_CALLBACK_TOKEN_LENGTH = 32
FAILPOINTS = ("after_provider_answer",)  # fault tests only; production refuses any
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ConfigError(ValueError):
    """The configuration is not usable; `problems` lists every reason, one sentence each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"the configuration has {count}:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    # Secrets and URLs that may carry a password stay out of repr(), so a logged Settings leaks nothing.
    database_url: str = field(repr=False)
    public_base_url: str
    allowed_origins: tuple[str, ...]
    storm_feed_url: str | None = field(repr=False)
    storm_feed_token: str | None = field(repr=False)
    routing_url: str | None
    grade_targets_json: str | None
    rural_areas_json: str | None
    link_ttl_hours: float
    session_hours: float
    lockout_attempts: int
    lockout_minutes: float
    cookie_secure: bool
    redis_url: str | None = field(repr=False)
    run_background_jobs: bool
    data_dir: Path = DATA_DIR
    secret_key_given: str | None = field(default=None, repr=False)
    status_codes: Mapping[str, str] = field(default_factory=dict)
    failpoint: str | None = None
    demo_speed: float | None = None  # the demo's clock: rxapp/plumbing/demo_clock.py
    demo_epoch: datetime | None = None
    notify_api_key: str | None = field(default=None, repr=False)
    notify_base_url: str = NOTIFY_API
    notify_sms_template_id: str = ""
    notify_email_template_id: str = ""
    notify_callback_token: str | None = field(default=None, repr=False)
    smtp_url: str | None = field(default=None, repr=False)
    email_from: str = DEFAULT_EMAIL_FROM
    email_via: str = "notify"
    code_rules_path: str | None = None
    niche_feed_url: str | None = field(default=None, repr=False)
    niche_feed_token: str | None = field(default=None, repr=False)
    niche_poll_seconds: float = 30.0
    niche_future_tolerance_minutes: float = 15.0
    sweep_seconds: float = 60.0
    page_countdown_seconds: float = 15.0
    storm_feed_disabled: bool = False
    niche_feed_disabled: bool = False
    allow_insecure_http: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: int = 3000
    audit_retention_days: int = 2555  # about seven years
    signin_address_attempts: int = 20
    signin_total_attempts: int = 200
    trusted_proxies: tuple[str, ...] = ()
    healthz_token: str | None = field(default=None, repr=False)
    storm_max_event_age_hours: float = 72.0  # integrations/storm/shapes.py: FrameRules
    storm_clock_skew_minutes: float = 5.0
    storm_degraded_minutes: float = 10.0  # rxapp/domain/feed_sequence.py: degraded_reasons
    support_contacts: tuple = ()  # rxapp/domain/support.py: SupportContact, shown after a visit
    # The force's branding (rxapp/plumbing/branding.py checks each; images are paths in assets/).
    force_name: str = "Cleveland Police"
    force_crest: str = "branding/crest.svg"
    force_favicon: str = "branding/favicon.svg"
    force_primary_colour: str = "#0b0c0c"
    force_accent_colour: str = "#1d70b8"
    portal: PortalSettings = field(default_factory=PortalSettings)  # rxapp/plumbing/portal_settings.py
    oidc: OidcSettings = field(default_factory=OidcSettings)  # rxapp/plumbing/oidc_settings.py: single sign-on
    team: TeamSettings = field(default_factory=TeamSettings)  # rxapp/plumbing/team_settings.py: the team page
    quiet_hours: tuple = (time(21, 0), time(8, 0))  # (local start, end) for routine messages: rxapp/domain/safety.py

    @cached_property
    def secret_key(self) -> str:
        """The server secret: SECRET_KEY, else one generated once into the data folder.

        It signs victims' tracking links, so it must survive restarts. Generated on first use rather than on
        load, so that loading the configuration (rxconfig, `check-config`, an image build) writes nothing."""
        return self.secret_key_given or _stored_secret(self.data_dir)

    @property
    def channel_providers(self) -> dict[str, str]:
        """Which provider sends each channel this deployment can send on: {"sms": "notify", "email": "smtp"}.
        Texts need Notify; email goes over SMTP when EMAIL_VIA is smtp or there is no Notify key."""
        routes = {}
        if self.notify_api_key and self.notify_sms_template_id:
            routes["sms"] = "notify"
        if self.smtp_url and (self.email_via == "smtp" or not self.notify_api_key):
            routes["email"] = "smtp"
        elif self.notify_api_key and self.notify_email_template_id:
            routes["email"] = "notify"
        return routes

    @property
    def offered_channels(self) -> frozenset[str] | None:
        """The channels contact choice may offer: those with a provider, or None (every channel) when no
        provider is configured at all, so that messages wait in the outbox until one is."""
        return frozenset(self.channel_providers) or None


def _stored_secret(data_dir: Path) -> str:
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written beside, then linked into place: two processes starting at once (Reflex's compile step and a
        # backend worker) end up with the same key, and neither reads a half-written file.
        tmp = data_dir / f".secret.key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def parse_status_codes(raw: str) -> dict[str, str]:
    """STATUS_CODES: a JSON object mapping the force's STORM status codes to what they mean."""
    from rxapp.domain import attendance as rules

    valid = sorted({rules.R_EN_ROUTE, rules.R_AT_SCENE, rules.R_ACKNOWLEDGED, rules.R_CLEARED, rules.R_COMMITTED,
                    rules.R_EMERGENCY})
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"STATUS_CODES is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) and v in valid for v in data.values()) \
            or not all(k.strip() for k in data):
        raise ValueError(f'STATUS_CODES must be a JSON object mapping codes to one of {", ".join(valid)}, '
                         f'e.g. {{"9": "en_route"}}')
    return {str(k).strip(): v for k, v in data.items()}


def _quiet_hours(raw: str) -> tuple:
    from rxapp.domain.safety import parse_quiet_hours
    return parse_quiet_hours(raw)


def parse_addresses(raw: str) -> tuple[str, ...]:
    """TRUSTED_PROXIES: IP addresses, separated by commas."""
    import ipaddress

    try:
        return tuple(str(ipaddress.ip_address(part.strip())) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValueError("TRUSTED_PROXIES must be IP addresses separated by commas, e.g. 127.0.0.1,::1") from None


def _default_status_codes() -> dict[str, str]:
    from rxapp.domain.attendance import DEFAULT_STATUS_CODES
    return dict(DEFAULT_STATUS_CODES)


def _grade_targets(raw: str):
    from rxapp.domain.grades import GradeTargets
    return GradeTargets.from_json(raw)


def _rural_areas(raw: str):
    from rxapp.domain.rural import RuralAreas
    return RuralAreas.from_json(raw)


def _support_contacts(raw: str | None):
    from rxapp.domain.support import parse_support_contacts
    return parse_support_contacts(raw)


def _notify_key(raw: str):
    from integrations.govuk_notify.client import parse_api_key
    return parse_api_key(raw)


def _smtp_url(raw: str):
    from integrations.email.smtp import parse_smtp_url
    return parse_smtp_url(raw)


def _read(env: Mapping[str, str]) -> tuple[Settings, SettingsReader]:
    r = SettingsReader(env)
    data_dir = Path(r.text("VJ_DATA_DIR") or ROOT / "data")

    database_url = r.text("DATABASE_URL") or f"sqlite:///{data_dir / 'victim_journey.db'}"
    if not database_url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        r.problem("DATABASE_URL must start with sqlite:/// (a file, e.g. sqlite:////var/lib/victim-journey/vj.db) "
                  "or postgresql:// (e.g. postgresql://victim_journey@db.force.local/victim_journey)")

    secret = env.get("SECRET_KEY") or None
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        r.problem(f"SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters "
                  "(e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(48))')")

    public = r.url("PUBLIC_BASE_URL", ("http", "https"), "https://victims.force.police.uk", DEFAULT_PUBLIC_BASE_URL,
                   origin=True)
    extra_origin = r.url("EXTRA_ORIGIN", ("http", "https"), "https://victims-proxy.force.local", origin=True)

    status_codes = _default_status_codes()
    status_codes.update(r.parsed("STATUS_CODES", parse_status_codes) or {})
    r.parsed("GRADE_TARGETS", _grade_targets)
    r.parsed("RURAL_AREAS", _rural_areas)

    code_rules = r.text("VJ_CODE_RULES")
    if code_rules is not None and not Path(code_rules).is_file():
        r.problem("VJ_CODE_RULES must name a Victims' Code rules file that exists (a copy of "
                  "rxapp/rules/victims_code_2020.json)")

    notify_key = r.text("NOTIFY_API_KEY")
    if notify_key is not None and r.parsed("NOTIFY_API_KEY", _notify_key) is None:
        notify_key = None
    smtp_url = r.text("SMTP_URL")
    if smtp_url is not None and r.parsed("SMTP_URL", _smtp_url) is None:
        smtp_url = None
    email_via = r.choice("EMAIL_VIA", "notify", ("notify", "smtp"))
    if email_via == "smtp" and not r.given("SMTP_URL"):
        r.problem("EMAIL_VIA is smtp but SMTP_URL is not set: set SMTP_URL, or EMAIL_VIA=notify")
    sms_template = r.text("NOTIFY_SMS_TEMPLATE_ID", "")
    email_template = r.text("NOTIFY_EMAIL_TEMPLATE_ID", "")
    for name, value, needed in (("NOTIFY_SMS_TEMPLATE_ID", sms_template, True),
                                ("NOTIFY_EMAIL_TEMPLATE_ID", email_template, email_via == "notify")):
        if value and not _UUID.match(value):
            r.problem(f"{name} must be the template's ID from Notify, a UUID such as "
                      "f33517ff-2a88-4f6e-b855-c550268ce08a")
        elif not value and needed and r.given("NOTIFY_API_KEY"):
            r.problem(f"{name} is not set: with NOTIFY_API_KEY set, it must be the ID (a UUID) of the Notify "
                      + ("text message template whose body is ((body))" if name.startswith("NOTIFY_SMS")
                         else "email template whose subject is ((subject)) and body is ((body))"))
    email_from = r.text("EMAIL_FROM", DEFAULT_EMAIL_FROM)
    if "@" not in email_from or any(c in email_from for c in "\r\n"):
        r.problem("EMAIL_FROM must be an email address, e.g. victim-updates@force.police.uk")

    failpoint = r.text("VJ_FAILPOINT")
    if failpoint is not None and failpoint not in FAILPOINTS:
        r.problem(f"VJ_FAILPOINT is for fault tests only and must be one of {', '.join(FAILPOINTS)} or unset")
        failpoint = None
    from rxapp.plumbing.branding import read_branding
    from rxapp.plumbing.demo_clock import read_demo_clock

    demo_speed, demo_epoch = read_demo_clock(r)

    storm_url = r.url("STORM_FEED_URL", ("ws", "wss"), "wss://storm-gateway.force.local:8765/feed")
    niche_url = r.url("NICHE_FEED_URL", ("http", "https"), "https://niche-adapter.force.local")
    storm_disabled = r.boolean("STORM_FEED_DISABLED", False)
    niche_disabled = r.boolean("NICHE_FEED_DISABLED", False)
    if storm_disabled and r.given("STORM_FEED_URL"):
        r.problem("STORM_FEED_DISABLED is true but STORM_FEED_URL is set: choose one")
    if niche_disabled and r.given("NICHE_FEED_URL"):
        r.problem("NICHE_FEED_DISABLED is true but NICHE_FEED_URL is set: choose one")

    healthz_token = r.text("HEALTHZ_TOKEN")
    if healthz_token is not None and len(healthz_token) < MIN_CALLBACK_TOKEN_LENGTH:
        r.problem(f"HEALTHZ_TOKEN must be at least {MIN_CALLBACK_TOKEN_LENGTH} characters")
        healthz_token = None

    settings = Settings(
        database_url=database_url,
        public_base_url=public,
        allowed_origins=tuple(o for o in dict.fromkeys((public, extra_origin)) if o),
        storm_feed_url=storm_url,
        storm_feed_token=r.text("STORM_FEED_TOKEN"),
        routing_url=r.url("ROUTING_URL", ("http", "https"), "http://osrm.force.local:5000"),
        grade_targets_json=r.text("GRADE_TARGETS"),
        rural_areas_json=r.text("RURAL_AREAS"),
        link_ttl_hours=r.number("TRACK_LINK_TTL_HOURS", 24.0, 1, 24 * 31),
        support_contacts=r.parsed("SUPPORT_CONTACTS_JSON", _support_contacts) or _support_contacts(None),
        session_hours=r.number("STAFF_SESSION_HOURS", 12.0, 0.25, 24),
        lockout_attempts=int(r.number("STAFF_LOCKOUT_ATTEMPTS", 5, 1, 100, whole=True)),
        lockout_minutes=r.number("STAFF_LOCKOUT_MINUTES", 15.0, 1, 24 * 60),
        cookie_secure=r.boolean("COOKIE_SECURE", False),
        redis_url=r.url("REDIS_URL", ("redis", "rediss", "unix"), "redis://redis.force.local:6379/0"),
        run_background_jobs=r.boolean("RUN_BACKGROUND_JOBS", True),
        data_dir=data_dir,
        secret_key_given=secret,
        status_codes=status_codes,
        failpoint=failpoint,
        demo_speed=demo_speed, demo_epoch=demo_epoch,
        notify_api_key=notify_key,
        notify_base_url=r.url("NOTIFY_BASE_URL", ("http", "https"), NOTIFY_API, NOTIFY_API).rstrip("/"),
        notify_sms_template_id=sms_template,
        notify_email_template_id=email_template,
        notify_callback_token=r.text("NOTIFY_CALLBACK_TOKEN"),
        smtp_url=smtp_url,
        email_from=email_from,
        email_via=email_via,
        code_rules_path=code_rules,
        niche_feed_url=niche_url,
        niche_feed_token=r.text("NICHE_FEED_TOKEN"),
        niche_poll_seconds=r.number("NICHE_POLL_SECONDS", 30.0, 1, 3600),
        niche_future_tolerance_minutes=r.number("NICHE_FUTURE_TOLERANCE_MINUTES", 15.0, 0, 1440),
        sweep_seconds=r.number("DEADLINE_SWEEP_SECONDS", 60.0, 1, 3600),
        page_countdown_seconds=r.number("PAGE_COUNTDOWN_SECONDS", 15.0, 1, 30),
        storm_feed_disabled=storm_disabled,
        niche_feed_disabled=niche_disabled,
        allow_insecure_http=r.boolean("ALLOW_INSECURE_HTTP", False),
        listen_host=r.text("LISTEN_HOST", "127.0.0.1"),
        listen_port=int(r.number("LISTEN_PORT", 3000, 1, 65535, whole=True)),
        audit_retention_days=int(r.number("AUDIT_RETENTION_DAYS", 2555, 1, 36500, whole=True)),
        signin_address_attempts=int(r.number("SIGNIN_ADDRESS_ATTEMPTS", 20, 1, 10000, whole=True)),
        signin_total_attempts=int(r.number("SIGNIN_TOTAL_ATTEMPTS", 200, 1, 100000, whole=True)),
        trusted_proxies=r.parsed("TRUSTED_PROXIES", parse_addresses) or (),
        healthz_token=healthz_token,
        storm_max_event_age_hours=r.number("STORM_MAX_EVENT_AGE_HOURS", 72.0, 1, 24 * 31),
        storm_clock_skew_minutes=r.number("STORM_CLOCK_SKEW_MINUTES", 5.0, 0, 24 * 60),
        storm_degraded_minutes=r.number("STORM_DEGRADED_MINUTES", 10.0, 1, 24 * 60),
        portal=read_portal_settings(r),
        oidc=read_oidc_settings(r),
        team=read_team_settings(r),
        quiet_hours=r.parsed("QUIET_HOURS", _quiet_hours) or Settings.quiet_hours,
        **read_branding(r),
    )
    return settings, r


def _production_problems(s: Settings, r: SettingsReader) -> list[str]:
    """What running for real needs beyond well-formed values. A variable already reported as malformed is
    not reported again. Never quotes a value."""
    problems: list[str] = []
    bad = r.malformed
    if not r.given("SECRET_KEY"):
        problems.append(f"SECRET_KEY is not set: running for real needs an explicit server secret of at least "
                        f"{MIN_SECRET_LENGTH} characters, kept stable (it signs victims' links), e.g. the output of: "
                        "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    if not r.given("PUBLIC_BASE_URL"):
        problems.append("PUBLIC_BASE_URL is not set: it must be the https:// address victims and staff use, "
                        "e.g. https://victims.force.police.uk")
    elif s.public_base_url.startswith("http://") and not s.allow_insecure_http and not bad & {
            "PUBLIC_BASE_URL", "ALLOW_INSECURE_HTTP"}:
        problems.append("PUBLIC_BASE_URL must be an https:// address: victims' links and staff sign-in must not "
                        "cross a network in clear (set ALLOW_INSECURE_HTTP=true only for a trial on a closed "
                        "network)")
    if s.public_base_url.startswith("https://") and not s.cookie_secure and "COOKIE_SECURE" not in bad:
        problems.append("COOKIE_SECURE must be true when PUBLIC_BASE_URL is https, so the staff session cookie "
                        "never travels without TLS")
    if not r.given("NOTIFY_API_KEY") and not r.given("SMTP_URL"):
        problems.append("no way to send messages: set NOTIFY_API_KEY with NOTIFY_SMS_TEMPLATE_ID and "
                        "NOTIFY_EMAIL_TEMPLATE_ID (GOV.UK Notify), or SMTP_URL (email over SMTP)")
    if r.given("NOTIFY_API_KEY"):
        token = s.notify_callback_token or ""
        if not token:
            problems.append("NOTIFY_CALLBACK_TOKEN is not set: with Notify in use it must be the bearer token "
                            "Notify sends to /notify/delivery-receipts and /notify/received-texts "
                            f"(at least {MIN_CALLBACK_TOKEN_LENGTH} characters)")
        elif len(token) < MIN_CALLBACK_TOKEN_LENGTH:
            problems.append(f"NOTIFY_CALLBACK_TOKEN must be at least {MIN_CALLBACK_TOKEN_LENGTH} characters")
        if not s.notify_base_url.startswith("https://") and "NOTIFY_BASE_URL" not in bad:
            problems.append(f"NOTIFY_BASE_URL must be an https:// address (Notify's API is {NOTIFY_API}); "
                            "a local test server is for the demo and the tests only")
    if r.given("SMTP_URL") and s.email_from == DEFAULT_EMAIL_FROM:
        problems.append("EMAIL_FROM is not set: with SMTP_URL set it must be your force's sending address, "
                        "e.g. victim-updates@force.police.uk")
    for feed, url_example, without in (("STORM", "the STORM gateway's WebSocket", "live attendance"),
                                       ("NICHE", "the records change feed", "the investigation journey")):
        if not r.given(f"{feed}_FEED_URL") and not getattr(s, f"{feed.lower()}_feed_disabled") \
                and f"{feed}_FEED_DISABLED" not in bad:
            problems.append(f"{feed}_FEED_URL is not set: point it at {url_example}, or set "
                            f"{feed}_FEED_DISABLED=true if the force runs without {without}")
    if r.given("VJ_FAILPOINT") and "VJ_FAILPOINT" not in bad:
        problems.append("VJ_FAILPOINT is set: it kills the sender on purpose, for fault tests only; unset it")
    if (r.given("DEMO_SPEED") or r.given("DEMO_EPOCH")) and not bad & {"DEMO_SPEED", "DEMO_EPOCH"}:
        problems.append("DEMO_SPEED is set: it runs live attendance on the demo's fast clock, for the demo only; "
                        "unset DEMO_SPEED and DEMO_EPOCH")
    from rxapp.domain.safety import covers_code_quiet_hours

    if not covers_code_quiet_hours(*s.quiet_hours) and "QUIET_HOURS" not in bad:
        problems.append("QUIET_HOURS leaves out part of the Code's 21:00 to 08:00, for test systems only; unset it")
    if s.code_rules_path and "VJ_CODE_RULES" not in bad:
        try:
            from rxapp.domain.code_rules import load_code

            load_code(s.code_rules_path)
        except (ValueError, OSError) as exc:
            problems.append(f"VJ_CODE_RULES: the rules file is not usable: {exc}")
    return problems


def load_settings(env: Optional[Mapping[str, str]] = None) -> Settings:
    """The configuration from `env` (the process environment by default); ConfigError lists every problem."""
    settings, reader = _read(os.environ if env is None else env)
    if reader.problems:
        raise ConfigError(reader.problems)
    return settings


def check(env: Optional[Mapping[str, str]] = None, *, production: bool = True) -> list[str]:
    """Every problem with the configuration, or [] when it is fine. `production`: also what running for real
    needs (`serve`); without it, only that each value is well formed (what the demo and the tests need)."""
    settings, reader = _read(os.environ if env is None else env)
    problems = list(reader.problems)
    if production:
        problems += _production_problems(settings, reader)
    return problems


def serve_environment(*, root: Path = ROOT) -> dict[str, str]:
    """The environment `serve` hands to Reflex: this one, with bun from `.tools/` (the project's rule: bun
    comes from npm, so Reflex must never download its own), no telemetry, no version check, and the project
    importable. The virtualenv's own bin folder goes last, as a fallback when PATH lacks it (systemd)."""
    env = dict(os.environ)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    tools = str(root / ".tools" / "node_modules" / ".bin")
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([tools, *[p for p in path if p != tools], venv_bin])
    env.update({"REFLEX_USE_SYSTEM_BUN": "1", "TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false"})
    env["PYTHONPATH"] = os.pathsep.join([str(root), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                      if p and p != str(root)]])
    return env


def read_env_file(path: str | Path) -> dict[str, str]:
    """KEY=VALUE lines, as systemd's EnvironmentFile= reads them: blank lines and # comments skipped, one pair
    of outer quotes removed, nothing else interpreted (so JSON needs no quoting). Errors name the line, never
    its value."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"cannot read the environment file {path}: {exc.strerror}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if line.startswith("export "):
            name = name[len("export "):].strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{path}, line {number}: expected NAME=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def use_env_file(path: str | Path) -> None:
    """Add an environment file's variables to this process's environment (they win, as in systemd), for the
    command line: `python -m rxapp.cli --env-file /etc/victim-journey/env check-config`."""
    os.environ.update(read_env_file(path))
    reset_settings()


_settings: Settings | None = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def reset_settings() -> None:
    """For tests that change the environment."""
    global _settings
    _settings = None
