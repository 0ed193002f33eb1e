"""Being a polite client of news sites: at most one request a second per host, and robots.txt honoured.

Why: a follower polls the same sites every few minutes for as long as it runs; sites block clients that hammer
them or ignore their robots.txt. Both rules apply to every request the follower makes (feeds, robots.txt,
articles), through `Polite.get`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from .fetching import Fetched, FetchError, Fetcher

log = logging.getLogger(__name__)

HOST_INTERVAL_S = 1.0
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_TTL_S = 3600.0


class RobotsRefused(Exception):
    """robots.txt does not allow the URL (or could not be read for a server error, which RFC 9309 treats as
    'disallow everything' for now: `transient`, worth trying again later)."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


class Polite:
    """Wraps a `Fetcher`: one request per `interval` seconds per host name, and each URL
    checked against its site's robots.txt (fetched once an hour per site) for `agent`. `robots` is the
    robots.txt cache, to share between clients (one per poll) of a long-running follower."""

    def __init__(self, fetcher: Fetcher, *, agent: str = "newsdesk", interval: float = HOST_INTERVAL_S,
                 robots: dict[str, tuple[float, RobotFileParser | None, str | None]] | None = None) -> None:
        self.fetcher = fetcher
        self.agent = agent
        self.interval = interval
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._robots = robots if robots is not None else {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def _site(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"

    async def _paced(self, url: str, **kwargs: Any) -> Fetched:
        host = (urlsplit(url).hostname or "").lower()  # http and https of one host share its pace
        async with self._locks.setdefault(host, asyncio.Lock()):
            wait = self._next.get(host, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await self.fetcher.get(url, **kwargs)
            finally:
                self._next[host] = time.monotonic() + self.interval

    async def _rules(self, url: str) -> tuple[RobotFileParser | None, str | None]:
        """The site's robots.txt rules: (parser, None), (None, None) when anything goes, or (None, reason) when
        nothing may be fetched for now. Raises FetchError when the fetch policy refuses the site."""
        site = self._site(url)
        async with self._robots_locks.setdefault(site, asyncio.Lock()):  # one robots.txt fetch per site
            cached = self._robots.get(site)
            if cached is not None and time.monotonic() - cached[0] < ROBOTS_TTL_S:
                return cached[1], cached[2]
            return await self._read_robots(site)

    async def _read_robots(self, site: str) -> tuple[RobotFileParser | None, str | None]:
        try:
            got = await self._paced(f"{site}/robots.txt", max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            if exc.refused:
                raise  # the site itself is refused by the fetch policy: say that, not "robots.txt"
            if exc.status is not None and 400 <= exc.status < 500:
                self._robots[site] = (time.monotonic(), None, None)  # no robots.txt: everything is allowed
                return None, None
            return None, f"robots.txt unreadable ({exc.reason})"  # not cached: tried again next time
        parser = RobotFileParser()
        parser.parse(got.body.decode("utf-8", "replace").splitlines())
        self._robots[site] = (time.monotonic(), parser, None)
        return parser, None

    async def get(self, url: str, **kwargs: Any) -> Fetched:
        """GET `url` if robots.txt allows it (raises RobotsRefused otherwise), paced per host."""
        parser, refusal = await self._rules(url)
        if refusal is not None:
            raise RobotsRefused(refusal, transient=True)
        if parser is not None and not parser.can_fetch(self.agent, url):
            raise RobotsRefused("disallowed by robots.txt")
        return await self._paced(url, **kwargs)
