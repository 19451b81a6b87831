"""Adapter for the force's NICHE records management system, through the records change-feed contract.

`protocol` parses and validates one change into frozen dataclasses (or a `BadChange`), `poller` polls
the force-side adapter's `/changes` endpoint and hands each page to a `RecordsSink`, and `simulator` is
a real HTTP feed speaking the same contract, for the demo and the tests.
"""
