"""A followed article as a corpus file: canonical URL, extraction with trafilatura, Markdown with front matter.

Why here and not in the loaders: the saved file is an ordinary `.md` the indexer reads like any other, so a
feed article is quoted, cited and reindexed exactly like a file a person put in the corpus.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MIN_ARTICLE_WORDS = 40  # less than this is a teaser, a paywall or a page the extractor could not read
FEEDS_FOLDER = "feeds"
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid|at_\w+|_ga)$", re.I)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ArticleError(Exception):
    """The page is not an article that can be saved; the message is the reason shown in the feed's status."""


@dataclass
class Article:
    """An extracted article and its front matter fields."""

    url: str
    title: str | None
    date: str | None
    publisher: str | None
    author: str | None
    feed: str
    text: str  # Markdown body from trafilatura

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(" ".join(self.text.split()).encode("utf-8")).hexdigest()

    def markdown(self) -> str:
        """The file: YAML front matter (JSON-quoted values, valid YAML) then the article text."""
        fields = {"title": self.title, "date": self.date, "publisher": self.publisher, "author": self.author,
                  "url": self.url, "feed": self.feed}
        lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items() if value]
        return "---\n" + "\n".join(lines) + "\n---\n\n" + self.text.strip() + "\n"


def canonical_url(url: str) -> str:
    """The URL items are deduplicated by: lower-case scheme and host, no default port, no fragment, no
    tracking parameters (utm_*, fbclid, ...)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.netloc.rsplit("@", 1)[-1].lower()  # no user:password@
    for default in ((":80",) if scheme == "http" else (":443",) if scheme == "https" else ()):
        host = host.removesuffix(default)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def article_path(url: str) -> str:
    """Corpus-relative file for the article at canonical `url`: feeds/<host>/<slug>-<hash>.md (stable for a URL,
    distinct for two URLs with the same last segment)."""
    parts = urlsplit(url)
    host = _SAFE.sub("-", (parts.hostname or "site").lower()).strip(".-") or "site"
    segment = [s for s in parts.path.split("/") if s]
    slug = _SAFE.sub("-", re.sub(r"\.(s?html?|php|aspx?)$", "", segment[-1] if segment else "index")).strip(".-_")
    digest = hashlib.sha1(url.encode("utf-8")).hexdigest()[:10]
    return f"{FEEDS_FOLDER}/{host}/{(slug[:60] or 'article')}-{digest}.md"


def extract_article(html: bytes, *, url: str, feed: str, entry_title: str | None = None,
                    entry_date: str | None = None, entry_author: str | None = None,
                    publisher: str | None = None) -> Article:
    """The article in `html` as Markdown with its metadata (the feed entry's title, date and author win over
    the page's; the page's site name over the feed's title). Raises ArticleError when no article text, or too
    little of it, comes out."""
    import trafilatura  # slow to import: only when an article is fetched

    try:
        text = trafilatura.extract(html, url=url, output_format="markdown", include_comments=False,
                                   include_tables=True, favor_precision=True)
        if not text or len(text.split()) < MIN_ARTICLE_WORDS:
            text = trafilatura.extract(html, url=url, output_format="markdown", include_comments=False,
                                       include_tables=True, favor_recall=True) or text
        meta = trafilatura.extract_metadata(html.decode("utf-8", "replace"), default_url=url)
    except Exception as exc:  # the extractor tripping over a hostile page is a skipped page, not a crash
        raise ArticleError(f"could not extract the article ({type(exc).__name__})") from exc
    words = len((text or "").split())
    if words < MIN_ARTICLE_WORDS:
        raise ArticleError(f"no article text extracted ({words} words)")
    return Article(url=url, title=entry_title or (meta.title if meta else None),
                   date=entry_date or (meta.date if meta else None),
                   publisher=(meta.sitename if meta else None) or publisher,
                   author=entry_author or (meta.author if meta else None), feed=feed, text=text or "")


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a hidden temporary file and a rename: readers and the indexer see the old
    file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
