"""The supervisor view (`/team`, supervisors' home page): the team's queue with escalated tasks first, the notices
an escalation sends to the team's supervisors, reassigning a task or a case within the team, and who is over
their load."""
