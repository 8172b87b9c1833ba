"""One error type and one mapping to exit codes, for everything the CLI reports."""
from __future__ import annotations

import sys
import typing as t

EXIT_OK = 0
EXIT_FAILED = 1   # a request failed (its error code is printed), or the run did
EXIT_USAGE = 2    # bad command line (click's own code for usage errors)


class CliError(Exception):
    """A failure to report as `error: CODE: message (field: F)`.

    ``code`` is a Nova exception name when a Stratus plugin said so (NoValidHost, QuotaExceeded,
    ...), else one of the CLI's own: ConfigurationError (no collection, inventory or lab found),
    RunnerError (ansible failed without a Stratus error: unreachable host, syntax error),
    LabError (the lab, stratus_lab, or the image build failed), InternalError (a bug).
    """

    def __init__(self, code: str, message: str, field: t.Optional[str] = None, exit_code: int = EXIT_FAILED,
                 more: t.Optional[list["CliError"]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.exit_code = exit_code
        self.more = list(more or [])

    @classmethod
    def from_result(cls, error: t.Mapping[str, t.Any], name: t.Optional[str] = None) -> "CliError":
        message = str(error.get("message") or "")
        if name:
            message = "%s: %s" % (name, message)
        return cls(str(error.get("code") or "RunnerError"), message, error.get("field"))

    def to_dict(self) -> dict[str, t.Any]:
        return {"code": self.code, "message": self.message, "field": self.field}

    def lines(self) -> list[str]:
        out = []
        for err in [self] + self.more:
            where = " (field: %s)" % err.field if err.field else ""
            out.append("error: %s: %s%s" % (err.code, err.message, where))
        return out


def report(exc: CliError) -> None:
    for line in exc.lines():
        print(line, file=sys.stderr)
