"""Configuration, read once from environment variables. Every variable is listed in the README."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("VJ_DATA_DIR", ROOT / "data"))


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = os.environ.get(name) or default
    if raw not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


def _secret_key() -> str:
    """A stable server secret: from SECRET_KEY, else generated once into the data folder.

    It signs victims' tracking links, so it must survive restarts.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters")
        return key
    path = DATA_DIR / "secret.key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    public_base_url: str
    storm_feed_url: str | None
    storm_feed_token: str | None
    storm_simulator: bool
    storm_sim_speed: float
    storm_sim_port: int
    routing_url: str | None
    grade_targets_json: str | None
    rural_areas_json: str | None
    link_ttl_hours: float
    session_hours: float
    lockout_attempts: int
    lockout_minutes: float
    cookie_secure: bool
    redis_url: str | None
    run_background_jobs: bool
    notify_api_key: str | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_sms_template_id: str = ""
    notify_email_template_id: str = ""
    notify_callback_token: str | None = None
    notify_simulator: bool = False
    smtp_url: str | None = None
    email_from: str = "victim-updates@example.org"
    email_via: str = "notify"
    code_rules_path: str | None = None
    niche_feed_url: str | None = None
    niche_feed_token: str | None = None
    niche_poll_seconds: float = 30.0
    sweep_seconds: float = 60.0
    extra: dict = field(default_factory=dict)


def load_settings() -> Settings:
    default_db = f"sqlite:///{DATA_DIR / 'victim_journey.db'}"
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or default_db,
        secret_key=_secret_key(),
        public_base_url=os.environ.get("PUBLIC_BASE_URL", "http://localhost:3000").rstrip("/"),
        storm_feed_url=os.environ.get("STORM_FEED_URL") or None,
        storm_feed_token=os.environ.get("STORM_FEED_TOKEN") or None,
        storm_simulator=_bool("STORM_SIMULATOR", False),
        storm_sim_speed=_float("STORM_SIM_SPEED", 10.0),
        storm_sim_port=int(_float("STORM_SIM_PORT", 8765)),
        routing_url=os.environ.get("ROUTING_URL") or None,
        grade_targets_json=os.environ.get("GRADE_TARGETS") or None,
        rural_areas_json=os.environ.get("RURAL_AREAS") or None,
        link_ttl_hours=_float("TRACK_LINK_TTL_HOURS", 24.0),
        session_hours=_float("STAFF_SESSION_HOURS", 12.0),
        lockout_attempts=int(_float("STAFF_LOCKOUT_ATTEMPTS", 5)),
        lockout_minutes=_float("STAFF_LOCKOUT_MINUTES", 15.0),
        cookie_secure=_bool("COOKIE_SECURE", False),
        redis_url=os.environ.get("REDIS_URL") or None,
        run_background_jobs=_bool("RUN_BACKGROUND_JOBS", True),
        notify_api_key=os.environ.get("NOTIFY_API_KEY") or None,
        notify_base_url=(os.environ.get("NOTIFY_BASE_URL") or "https://api.notifications.service.gov.uk").rstrip("/"),
        notify_sms_template_id=os.environ.get("NOTIFY_SMS_TEMPLATE_ID", ""),
        notify_email_template_id=os.environ.get("NOTIFY_EMAIL_TEMPLATE_ID", ""),
        notify_callback_token=os.environ.get("NOTIFY_CALLBACK_TOKEN") or None,
        smtp_url=os.environ.get("SMTP_URL") or None,
        email_from=os.environ.get("EMAIL_FROM", "victim-updates@example.org"),
        email_via=_choice("EMAIL_VIA", "notify", ("notify", "smtp")),
        code_rules_path=os.environ.get("VJ_CODE_RULES") or None,
        niche_feed_url=os.environ.get("NICHE_FEED_URL") or None,
        niche_feed_token=os.environ.get("NICHE_FEED_TOKEN") or None,
        niche_poll_seconds=_float("NICHE_POLL_SECONDS", 30.0),
        sweep_seconds=_float("DEADLINE_SWEEP_SECONDS", 60.0),
    )


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
