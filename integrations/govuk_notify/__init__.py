"""Adapter for GOV.UK Notify, through its v2 REST API (see /contracts/govuk-notify.md).

`client` sends texts and emails, looks notifications up by our outbox reference and reads received texts,
turning every failure into a `NotifyError` that says whether a retry may help. `providers` puts it behind
the outbound interface of `integrations.outbound`, for texts and for emails. `simulator` is a local
Notify-compatible server speaking the same API, with fault injection, for the demo and the tests.
"""
