"""Follow news feeds: new articles saved into the corpus and indexed minutes after they are published.

`Follower` follows RSS and Atom feeds (given directly, or discovered from a page's `<link rel="alternate">`
tags), polls them with conditional requests (ETag, Last-Modified) and saves each new or updated article as
Markdown with front matter under `corpus/feeds/<host>/` (index/feed_articles.py), then indexes exactly those
files. Every request goes through the fetch policy (index/fetching.py) and the politeness rules
(index/politeness.py: one request a second per host, robots.txt).

What it promises:
- Items are deduplicated by canonical URL (two feeds of one site share their articles) and by the article
  text's hash (a syndicated copy under another URL is not saved twice).
- An article is fetched again only when its feed entry changes (date or title); when its text changed, its
  file is rewritten in place and reindexed, so answers quote the new text. An item that leaves the feed stays.
- A failing feed backs off (`feed_minutes` doubled per failure, at most a day) and shows its error; one bad
  feed or page never stops the others. A page the extractor cannot read is skipped with its reason (kept in
  the feed's status), never saved half-empty.
- State (feeds, items, skipped pages) lives in `<data>/feeds.sqlite3` (index/feed_state.py).

Runs: `poll()` once (`newsdesk follow --poll`, for cron), or `FollowLoop` in a thread every `feed_minutes`
(`newsdesk watch`, the Discord bot).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable
from urllib.parse import urljoin, urlsplit

from aiohttp.abc import AbstractResolver

from .feed_articles import ArticleError, article_path, canonical_url, extract_article, write_atomic
from .feed_state import FeedRow, FeedState, ItemRow, SkippedRow
from .fetching import Fetched, FetchError, Fetcher, FetchPolicy
from .politeness import HOST_INTERVAL_S, Polite, RobotsRefused
from .records import IndexReport
from .settings import Settings

log = logging.getLogger(__name__)

MAX_ENTRIES = 100  # entries looked at per feed and poll (newest first, as feeds list them)
MAX_BACKOFF_S = 24 * 3600.0
ARTICLE_RETRIES = 2  # more tries for an article whose fetch failed for a transient reason
CONCURRENT_FEEDS = 4
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+xml",
              "application/xml", "text/xml")
HTML_TYPES = ("text/html", "application/xhtml+xml")


class FollowError(Exception):
    """The URL could not be followed; the message says why (safe to show)."""


@dataclass
class FollowResult:
    """What `follow` did: the feed URL followed, its title, how many entries it lists now, whether it was new,
    and other feeds the page offered."""

    feed: str
    title: str | None
    entries: int
    new: bool
    also: list[str] = field(default_factory=list)


@dataclass
class SavedArticle:
    """An article saved by a poll (new, or `updated` in place)."""

    title: str | None
    publisher: str | None
    path: str
    url: str
    feed: str
    updated: bool = False


@dataclass
class FeedOutcome:
    """One feed's poll: `state` is new, unchanged, not modified, failed or backing off."""

    feed: str
    title: str | None
    state: str
    error: str | None = None
    saved: int = 0
    updated: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (article URL, reason)

    def line(self) -> str:
        name = self.title or self.feed
        if self.state == "failed":
            return f"{name}: failed: {self.error}"
        if self.state == "backing off":
            return f"{name}: backing off after an error ({self.error})"
        parts = [self.state] if not (self.saved or self.updated) else []
        parts += [f"{self.saved} new"] if self.saved else []
        parts += [f"{self.updated} updated"] if self.updated else []
        text = f"{name}: {', '.join(parts)}"
        for url, reason in self.skipped:
            text += f"\n  skipped {url}: {reason}"
        return text


@dataclass
class PollReport:
    """A poll of every followed feed, and the index run over the files it saved."""

    feeds: list[FeedOutcome] = field(default_factory=list)
    articles: list[SavedArticle] = field(default_factory=list)
    index: IndexReport | None = None
    index_error: str | None = None
    claimed: set[str] = field(default_factory=set, repr=False)  # article URLs a feed of this poll took on

    @property
    def new(self) -> list[SavedArticle]:
        return [a for a in self.articles if not a.updated]

    def lines(self) -> list[str]:
        out = [f.line() for f in self.feeds]
        if self.index_error:
            out.append(f"saved files not indexed yet: {self.index_error} (the next poll tries again)")
        return out or ["no feeds followed"]


@dataclass
class FeedStatus:
    """One followed feed as `newsdesk feeds` and /feeds show it."""

    url: str
    title: str | None
    items: int
    last_fetch: str | None
    last_new: str | None
    last_error: str | None
    retry_at: str | None
    skipped: list[dict[str, str]]
    from_settings: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        head = f"{self.title or '(untitled)'} <{self.url}>"
        head += " (NEWSDESK_FEEDS)" if self.from_settings else ""
        body = (f"  {self.items} articles; last fetch {self.last_fetch or 'never'}; "
                f"last new article {self.last_new or 'never'}")
        out = [head, body]
        if self.last_error:
            out.append(f"  error: {self.last_error}" + (f"; next try {self.retry_at}" if self.retry_at else ""))
        out += [f"  skipped {s['url']}: {s['reason']}" for s in self.skipped[-5:]]
        return out


def _iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts)) if ts else None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_feed(got: Fetched) -> Any | None:
    """The feedparser result when `got` is an RSS or Atom document, else None. Always parses bytes (a string
    would make feedparser fetch it as a URL itself)."""
    import feedparser

    parsed = feedparser.parse(got.body, response_headers={"content-location": got.url,
                                                           "content-type": got.headers.get("Content-Type", "")})
    if parsed.get("version") or parsed.entries:
        return parsed
    return None


def discover_feeds(html: bytes, base: str) -> list[str]:
    """Feed URLs a page announces with `<link rel="alternate" type="application/rss+xml" href=...>` (or Atom),
    in page order, made absolute."""
    import lxml.html

    try:
        doc = lxml.html.fromstring(html)
    except (ValueError, TypeError, lxml.etree.ParserError):
        return []
    found: list[str] = []
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            url = urljoin(base, href)
            if url not in found and urlsplit(url).scheme in ("http", "https"):
                found.append(url)
    return found


def _entry_date(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed"):
        value = dict.get(entry, key)  # dict.get: no feedparser fallback mapping (and its warning)
        if value:
            return time.strftime("%Y-%m-%d", value)
    return None


def _entry_author(entry: Any) -> str | None:
    """The entry's author by name (RSS writes "desk@example.com (Dana Whitlock)"; Atom the name alone)."""
    author = str(dict.get(entry, "author") or "").strip()
    named = re.search(r"\(([^()]+)\)\s*$", author)
    return named.group(1).strip() if named else (author or None)


def _stamp(entry: Any) -> str:
    """What marks a new version of an entry: its dates and title."""
    return "|".join(str(dict.get(entry, key) or "") for key in ("updated", "published", "title"))


class Follower:
    """Follows feeds for one corpus and data folder. `index(paths)` indexes saved files by name (an Engine's
    `lambda paths: engine.index(paths=paths, progress=False)`); without it files are saved but not indexed.
    `resolver` replaces name resolution (tests); `host_interval` is the least time between two requests to one
    host."""

    def __init__(self, settings: Settings, *, index: Callable[[list[str]], IndexReport] | None = None,
                 resolver: AbstractResolver | None = None, host_interval: float = HOST_INTERVAL_S) -> None:
        self.settings = settings
        self.state = FeedState(Path(settings.data))
        self.policy = FetchPolicy.from_settings(settings)
        self._index = index
        self._resolver = resolver
        self._interval = host_interval
        self._robots: dict[str, Any] = {}  # robots.txt per site, kept between polls (an hour each)

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[Polite]:
        async with Fetcher(self.policy, resolver=self._resolver) as fetcher:
            yield Polite(fetcher, interval=self._interval, robots=self._robots)

    # --- following -------------------------------------------------------------------------------
    async def follow(self, url: str, *, client: Polite | None = None) -> FollowResult:
        """Follow the feed at `url`, or the first feed the page at `url` announces. Raises FollowError."""
        url = url.strip()
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise FollowError("only http:// and https:// links can be followed")
        if client is None:
            async with self._client() as polite:
                return await self.follow(url, client=polite)
        got = await self._get(client, url)
        parsed = parse_feed(got)
        feed_url, also = got.url, []
        if parsed is None:
            candidates = discover_feeds(got.body, got.url) if got.content_type in HTML_TYPES or not got.content_type \
                else []
            if not candidates:
                raise FollowError(f"no RSS or Atom feed at {url} (and the page announces none)")
            for i, candidate in enumerate(candidates):
                try:
                    parsed = parse_feed(await self._get(client, candidate))
                except FollowError as exc:
                    log.info("announced feed %s: %s", candidate, exc)
                    continue
                if parsed is not None:
                    feed_url, also = candidate, candidates[i + 1:]
                    break
            if parsed is None:
                raise FollowError(f"the feeds {url} announces could not be read")
        title = (parsed.feed.get("title") or "").strip() or None
        new = self.state.add_feed(feed_url, url if url != feed_url else None, title)
        log.info("following %s (%s, %d entries)", feed_url, title, len(parsed.entries))
        return FollowResult(feed_url, title, len(parsed.entries), new, also)

    async def _get(self, client: Polite, url: str) -> Fetched:
        try:
            return await client.get(url)
        except FetchError as exc:
            raise FollowError(f"{exc.reason}: {url}") from None
        except RobotsRefused as exc:
            raise FollowError(f"{url}: {exc}") from None

    def unfollow(self, url: str) -> str | None:
        """Stop following `url` (the feed, or the page it was found on); its saved articles stay in the corpus.
        Returns the feed URL, or None when it was not followed."""
        return self.state.remove_feed(url.strip())

    def statuses(self) -> list[FeedStatus]:
        listed = set(self.settings.feeds)
        skipped: dict[str, list[dict[str, str]]] = {}
        for s in self.state.skipped():
            skipped.setdefault(s.feed, []).append({"url": s.url, "reason": s.reason})
        return [FeedStatus(url=f.url, title=f.title, items=self.state.item_count(f.url), last_fetch=_iso(f.last_fetch),
                           last_new=_iso(f.last_new), last_error=f.last_error,
                           retry_at=_iso(f.retry_at) if f.retry_at > time.time() else None,
                           skipped=skipped.get(f.url, []), from_settings=bool({f.url, f.asked} & listed))
                for f in self.state.feeds()]

    # --- polling ---------------------------------------------------------------------------------
    async def poll(self, *, force: bool = False) -> PollReport:
        """Poll every followed feed (and those in NEWSDESK_FEEDS) once; save new and updated articles; index
        them. Feeds backing off after an error are left alone unless `force`."""
        report = PollReport()
        async with self._client() as client:
            await self._follow_settings_feeds(client, report)
            gate = asyncio.Semaphore(CONCURRENT_FEEDS)

            async def one(row: FeedRow) -> FeedOutcome:
                async with gate:
                    try:
                        return await self._poll_feed(client, row, force, report)
                    except Exception as exc:  # one feed's bug must not stop the others
                        log.exception("polling %s failed", row.url)
                        return self._failed(row, f"{type(exc).__name__}: {exc}")

            rows = [r for r in self.state.feeds() if r.url not in {o.feed for o in report.feeds}]
            report.feeds += await asyncio.gather(*(one(r) for r in rows))
        await self._index_saved(report)
        return report

    async def _follow_settings_feeds(self, client: Polite, report: PollReport) -> None:
        known = {u for f in self.state.feeds() for u in (f.url, f.asked) if u}
        for url in self.settings.feeds:
            if url in known:
                continue
            try:
                await self.follow(url, client=client)
            except FollowError as exc:
                log.warning("NEWSDESK_FEEDS: %s", exc)
                self.state.add_feed(url, url, None)  # listed with its error; found again once it answers
                row = self.state.feed(url)
                assert row is not None
                report.feeds.append(self._failed(row, str(exc)))

    def _failed(self, row: FeedRow, error: str) -> FeedOutcome:
        delay = min(MAX_BACKOFF_S, self.settings.feed_minutes * 60 * 2 ** row.failures)
        self.state.failed(row.url, error, time.time() + delay)
        log.warning("feed %s: %s (next try in %.0f min)", row.url, error, delay / 60)
        return FeedOutcome(row.url, row.title, "failed", error)

    async def _poll_feed(self, client: Polite, row: FeedRow, force: bool, report: PollReport) -> FeedOutcome:
        if not force and row.retry_at > time.time():
            return FeedOutcome(row.url, row.title, "backing off", row.last_error)
        headers = {}
        if row.etag:
            headers["If-None-Match"] = row.etag
        if row.last_modified:
            headers["If-Modified-Since"] = row.last_modified
        try:
            got = await client.get(row.url, headers=headers, accept=(304,))
        except FetchError as exc:
            return self._failed(row, exc.reason)
        except RobotsRefused as exc:
            return self._failed(row, str(exc))
        outcome = FeedOutcome(row.url, row.title, "unchanged")
        etag, modified = got.headers.get("ETag"), got.headers.get("Last-Modified")
        if got.status == 304:
            outcome.state = "not modified"
            self.state.fetched(row.url, etag=etag or row.etag, last_modified=modified or row.last_modified,
                               body_hash=None, title=None)
            return outcome
        body_hash = _sha(got.body)
        if body_hash == row.body_hash:
            self.state.fetched(row.url, etag=etag, last_modified=modified, body_hash=None, title=None)
            return outcome
        parsed = parse_feed(got)
        if parsed is None and row.asked == row.url and row.title is None:
            return await self._rediscover(client, row)
        if parsed is None:
            return self._failed(row, "not an RSS or Atom feed")
        title = (parsed.feed.get("title") or "").strip() or row.title
        outcome.title = title
        for entry in parsed.entries[:MAX_ENTRIES]:
            saved = await self._entry(client, row.url, title, entry, outcome, report.claimed)
            if saved is not None:
                report.articles.append(saved)
                if saved.updated:
                    outcome.updated += 1
                else:
                    outcome.saved += 1
        if outcome.saved or outcome.updated:
            outcome.state = "new"
            self.state.got_new(row.url)
        self.state.fetched(row.url, etag=etag, last_modified=modified, body_hash=body_hash, title=title)
        return outcome

    async def _rediscover(self, client: Polite, row: FeedRow) -> FeedOutcome:
        """A NEWSDESK_FEEDS entry that failed when first seen: follow it now (it may be a page announcing its
        feed); the feed found replaces it and is polled from the next poll on."""
        try:
            found = await self.follow(row.url, client=client)
        except FollowError as exc:
            return self._failed(row, str(exc))
        if found.feed != row.url:
            self.state.remove_feed(row.url)
        return FeedOutcome(found.feed, found.title, "followed")

    async def _entry(self, client: Polite, feed: str, publisher: str | None, entry: Any, outcome: FeedOutcome,
                     claimed: set[str]) -> SavedArticle | None:
        link = (entry.get("link") or "").strip()
        if not link or urlsplit(urljoin(feed, link)).scheme not in ("http", "https"):
            return None
        url = canonical_url(urljoin(feed, link))
        stamp = _stamp(entry)
        seen = self.state.stamp(feed, url)
        if seen == stamp:
            return None  # this entry did not change since its article was fetched
        known = self.state.item(url)
        if url in claimed or (seen is None and known is not None):
            self.state.set_stamp(feed, url, stamp)  # another feed brought (or brings) this article in
            return None
        claimed.add(url)
        before = self.state.skipped_item(url)
        if before is not None and before.stamp == stamp and before.retry <= 0:
            return None

        def skip(reason: str, transient: bool = False) -> None:
            retries = ((before.retry - 1) if before is not None and before.stamp == stamp else ARTICLE_RETRIES) \
                if transient else 0
            self.state.skip(SkippedRow(url, feed, stamp, reason, max(0, retries)))
            outcome.skipped.append((url, reason))
            log.info("skipped %s: %s", url, reason)

        try:
            got = await client.get(url)
        except FetchError as exc:
            skip(exc.reason, transient=exc.transient)
            return None
        except RobotsRefused as exc:
            skip(str(exc), transient=exc.transient)
            return None
        if got.content_type and got.content_type not in HTML_TYPES:
            skip(f"not an HTML page ({got.content_type})")
            return None
        try:
            article = await asyncio.to_thread(
                extract_article, got.body, url=url, feed=feed, entry_title=(entry.get("title") or "").strip() or None,
                entry_date=_entry_date(entry), entry_author=_entry_author(entry), publisher=publisher)
        except ArticleError as exc:
            skip(str(exc))
            return None
        digest = article.content_hash
        self.state.set_stamp(feed, url, stamp)
        if known is not None and known.content_hash == digest:
            return None  # the entry changed, the article did not
        twin = self.state.item_with_hash(digest)
        if twin is not None and twin.url != url:
            log.info("%s has the same text as %s: not saved again", url, twin.url)
            self.state.save_item(ItemRow(url, feed, None, digest, article.title))
            return None
        path = known.path if known is not None and known.path else article_path(url)
        write_atomic(Path(self.settings.corpus) / path, article.markdown())
        self.state.save_item(ItemRow(url, feed, path, digest, article.title))
        self.state.add_unindexed([path])
        log.info("%s %s: %s", "updated" if known else "saved", path, article.title)
        return SavedArticle(article.title, article.publisher, path, url, feed, updated=known is not None)

    async def _index_saved(self, report: PollReport) -> None:
        paths = self.state.unindexed()
        if not paths or self._index is None:
            return
        try:
            report.index = await asyncio.to_thread(self._index, paths)
        except Exception as exc:  # busy or damaged index: the files stay listed for the next poll
            log.warning("indexing %d feed articles failed: %s", len(paths), exc)
            report.index_error = f"{type(exc).__name__}: {exc}"
            return
        self.state.indexed(paths)


class FollowLoop:
    """Polls in a daemon thread every `settings.feed_minutes` until `stop()`; `wake()` polls at once (after
    /follow). `on_poll(report)` runs in that thread after each poll."""

    def __init__(self, follower: Follower, on_poll: Callable[[PollReport], None] | None = None) -> None:
        self.follower = follower
        self.on_poll = on_poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newsdesk-follow", daemon=True)

    def start(self) -> FollowLoop:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = asyncio.run(self.follower.poll())
            except Exception:  # keep following whatever went wrong
                log.exception("feed poll failed")
            else:
                if self.on_poll is not None:
                    try:
                        self.on_poll(report)
                    except Exception:
                        log.exception("on_poll failed")
            self._wake.wait(self.follower.settings.feed_minutes * 60)
            self._wake.clear()


def engine_follower(engine: Any, **kwargs: Any) -> Follower:
    """A Follower over an Engine's settings that indexes what it saves with that engine."""
    return Follower(engine.settings, index=lambda paths: engine.index(paths=paths, progress=False), **kwargs)
