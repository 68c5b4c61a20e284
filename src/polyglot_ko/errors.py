"""The one exception type for user mistakes.

Anything the user can fix (a wrong path, a bad config value, a corrupt file, an unreachable hub) is raised
as `UserError` with a one-line message that names the input and says how to fix it. The CLI prints it as
`error: <message>` and exits with status 2, without a traceback. Programming errors stay ordinary
exceptions so that their tracebacks reach us.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input: printed as one line by the CLI, never as a traceback.

    `param` names the argument at fault when there is one (the server reports it as OpenAI's `param` field).
    """

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param
