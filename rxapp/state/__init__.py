"""Reflex states: they only hold what a page renders; every handler authorises from server-side facts."""
