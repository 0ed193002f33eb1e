"""Records that flow from the engine to every front end."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Span:
    """A [start, end) range of a document's clean text."""

    start: int
    end: int


@dataclass
class Document:
    """A loaded, cleaned source document. `text` is the clean text all offsets refer to."""

    path: str  # relative to the corpus folder, posix
    text: str
    title: str | None = None
    source: str | None = None  # publisher, e.g. "The American Conservative"
    date: str | None = None  # YYYY-MM-DD publication date
    url: str | None = None
    author: str | None = None
    comments: list[Span] = field(default_factory=list)  # reader comments inside `text`
    content_hash: str = ""  # hash of the raw file bytes
    date_from_file: bool = False  # `date` is only the file's creation time (a PDF's), not a date the text states


@dataclass(frozen=True)
class OtherSource:
    """A document that holds the same words as a result's quote (a syndicated copy): listed as another source."""

    path: str
    title: str | None
    source: str | None
    date: str | None
    url: str | None
    start: int
    end: int


@dataclass
class Result:
    """One answer result: a verbatim quote inside a passage, with its citation."""

    quote: str
    passage: str
    path: str
    start: int  # quote offsets in the document's clean text
    end: int
    title: str | None
    source: str | None
    date: str | None
    score: float
    url: str | None = None
    passage_start: int = 0
    passage_end: int = 0
    speaker: str | None = None  # who said the quote, when known
    when: str | None = None  # the date phrase near the quote that matches a date the question pins
    said_on: str | None = None  # YYYY-MM-DD the words were said: a day the text gives for them, else publication
    clipped: bool = False  # the quote is the answering clause of a longer sentence (show an ellipsis)
    is_comment: bool = False  # the quote is from a reader comment, not the article
    also_in: list[OtherSource] = field(default_factory=list)  # the same words in other documents
    author: str | None = None  # the article's byline, when known
    date_from_file: bool = False  # `date` is only the file's creation time, shown as such

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape read by tools outside this repo."""
        return {
            "quote": self.quote,
            "passage": self.passage,
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "title": self.title,
            "source": self.source,
            "date": self.date,
            "score": round(float(self.score), 4),
            "speaker": self.speaker,
            "said_on": self.said_on,
            "also_in": [a.path for a in self.also_in],
        }


@dataclass
class Answer:
    question: str
    abstained: bool
    results: list[Result]
    # Closest matches shown when abstaining; never presented as answers.
    near_misses: list[Result] = field(default_factory=list)
    # Names in the question that no indexed article mentions (why it abstained, when that is why).
    unknown_names: list[str] = field(default_factory=list)
    # Why it abstained, in words for the asker ("nothing from X on 2023-07-04; nearest: 2023-06-21").
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question": self.question,
            "abstained": self.abstained,
            "results": [r.to_json() for r in self.results],
        }
        if self.abstained:
            out["reason"] = self.reason
        return out


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class IndexReport:
    documents: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def any_change(self) -> bool:
        """Whether the run added, updated or removed a document (so committed a new index generation)."""
        return bool(self.added or self.updated or self.removed)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass
class SourceInfo:
    path: str
    title: str | None
    source: str | None
    date: str | None
    url: str | None
    chunks: int


@dataclass
class IndexStatus:
    documents: int
    chunks: int
    updated_at: str | None  # ISO time of the last index change
    model: str
    sources: list[SourceInfo] = field(default_factory=list)


@dataclass
class Warmup:
    """What `Engine.warm` loaded: seconds per part (`model`, `index`, `tables`; a part already loaded takes
    about nothing), the index generation warmed (0: no index yet, nothing loaded) and the seconds in all."""

    generation: int
    seconds: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
