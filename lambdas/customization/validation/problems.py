"""What is wrong with a dataset, where, and how to fix it.

Every check reports through a `ProblemLog`: each problem is counted in full, but only the
first `keep` are stored, so a file with a million bad lines costs the same memory as one
with ten.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"
# A message quotes the data at most this long: the kept problems stay small whatever the file holds.
MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # 1-based; None for the file as a whole (record counts, size, settings)
    rule: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        prefix = "" if self.severity == ERROR else f"{self.severity}: "
        return f"{where}: {self.rule}: {prefix}{self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ProblemLog:
    keep: int = 200
    problems: list[Problem] = field(default_factory=list)
    errors_by_rule: Counter = field(default_factory=Counter)
    warnings_by_rule: Counter = field(default_factory=Counter)
    # (file, line or None): where the check was when an unexpected error stopped it, if it did.
    interrupted_at: tuple[str, int | None] | None = None

    def add(self, file: str, line: int | None, rule: str, message: str, severity: str = ERROR) -> None:
        counter = self.errors_by_rule if severity == ERROR else self.warnings_by_rule
        counter[rule] += 1
        if len(self.problems) < self.keep:
            if len(message) > MAX_MESSAGE_CHARS:
                cut = len(message) - MAX_MESSAGE_CHARS
                message = f"{message[:MAX_MESSAGE_CHARS]}... ({cut:,} more characters)"
            self.problems.append(Problem(file, line, rule, message, severity))

    def error(self, file: str, line: int | None, rule: str, message: str) -> None:
        self.add(file, line, rule, message, ERROR)

    def warning(self, file: str, line: int | None, rule: str, message: str) -> None:
        self.add(file, line, rule, message, WARNING)

    @property
    def error_count(self) -> int:
        return sum(self.errors_by_rule.values())

    @property
    def warning_count(self) -> int:
        return sum(self.warnings_by_rule.values())

    @property
    def truncated(self) -> int:
        """How many problems were counted but not kept."""
        return self.error_count + self.warning_count - len(self.problems)
