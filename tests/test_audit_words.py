"""Every action the audit log records reads as words on the audit page, not as its stored name."""
from rxapp.audit.service import AuditAction
from rxapp.audit.views import ACTION_WORDS


def test_every_audit_action_has_words():
    assert {str(action) for action in AuditAction} <= set(ACTION_WORDS)
    assert all(words[:1].isupper() and "_" not in words for words in ACTION_WORDS.values())
