"""The victim portal: invitation and sign-in by link and one-time code, the case page, preferences, secure
messages with the officer in charge, and feedback."""
