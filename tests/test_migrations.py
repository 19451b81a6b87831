"""Every table change is a migration: the models and the migrated schema agree, and migrations run both ways."""
from alembic import command
from alembic.config import Config

from rxapp.plumbing.config import ROOT


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def test_models_match_the_migrations(db_url):
    command.check(_config(db_url))  # raises if autogenerate would find anything to do


def test_migrations_downgrade_and_upgrade_again(db_url):
    cfg = _config(db_url)
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    command.check(cfg)
