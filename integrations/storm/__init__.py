"""Adapter for the force's STORM command-and-control system, through the dispatch feed contract.

`protocol` parses and validates feed frames into the domain's `DispatchEvent`s, `client` keeps a
resumable WebSocket subscription to the force's gateway and hands batches to a `FeedSink`, and
`simulator` is a real gateway speaking the same contract, for the demo and the tests.
"""
