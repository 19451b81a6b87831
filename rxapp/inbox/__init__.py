"""The officer inbox (`/inbox`, officers' home page): today's work first - conversations with unread counts,
tasks by deadline, duties falling due - and replies with the force's reusable wording."""
