"""Email over SMTP, for forces that relay mail themselves rather than through GOV.UK Notify.

`smtp` holds `SmtpSender`, which sends one plain-text message per call and says, when it fails, whether a
retry may help. `providers` puts it behind the outbound interface of `integrations.outbound`.
"""
