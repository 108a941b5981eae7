"""The corpus agreement tally, shared by test_corpus.py and the terminal-summary hook."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tally:
    results: dict[str, bool] = field(default_factory=dict)
    pdfs: int = 0
    skipped: int = 0
    known: int = 0

    def configure(self, *, pdfs: int, skipped: int, known: int) -> None:
        self.pdfs, self.skipped, self.known = pdfs, skipped, known

    def record(self, name: str, agrees: bool) -> None:
        self.results[name] = agrees

    def line(self) -> str | None:
        if not self.results:
            return None
        agreed = sum(self.results.values())
        return (
            f"corpus agreement: {agreed}/{len(self.results)} compared entries agree "
            f"({self.skipped} skipped, {self.known} known disagreements, "
            f"{self.pdfs} PDFs in the manifest)"
        )


TALLY = Tally()
