"""The one exception type for user mistakes.

Anything the user can fix (a wrong path, a bad config value, a corrupt file, an unreachable hub) is raised
as `UserError` with a one-line message that names the input and says how to fix it. The CLI prints it as
`error: <message>` and exits with status 2, without a traceback. Programming errors stay ordinary
exceptions so that their tracebacks reach us.
"""


class UserError(Exception):
    """A mistake in the user's input: printed as one line by the CLI, never as a traceback."""
