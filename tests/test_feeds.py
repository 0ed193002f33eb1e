"""Following feeds end to end: a loopback news site (tests/feed_server.py) with an RSS and an Atom feed, the real
model and index, real files. Follow, poll, answer; 304 and unchanged feeds; updated and removed articles; a
broken feed, a 404, a 50 MB page, a redirect to a refused address and unreadable pages reported, nothing lost."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsdesk.bot.cli import main as cli_main
from newsdesk.index.engine import Engine
from newsdesk.index.feeds import Follower, engine_follower
from newsdesk.index.settings import Settings
from tests.feed_server import MB, Entry, FeedSite

FERRY = ["The new harbour ferry Marigold Star carried 4,812 passengers on its maiden voyage across the bay, the port "
         "authority said on Tuesday.",
         "\"We have never seen a crowd like it on a first crossing,\" said harbourmaster Ines Okafor, who added that "
         "the vessel completed the trip in 38 minutes.",
         "The ferry was built at the Larchmont shipyard and is the first in the fleet to run entirely on batteries."]
BRIDGE = ["Engineers reopened the Calloway swing bridge on Wednesday after a repair that cost 2.3 million euros, the "
          "city council said in a statement.",
          "The bridge had been closed for eleven weeks after a barge struck one of its piers during a storm in "
          "September, cutting the shortest road between the old town and the harbour district.",
          "Council engineer Tomas Varga said the new bearings should last another forty years."]
TRAM = ["The Bay Courier has learned that the city will order nine battery trams from the Orsk works for the "
        "coastal line, at a price of 41 million euros.",
        "Transport councillor Petra Lund said the first tram would carry passengers in the spring of 2028 and that "
        "the depot at Kestrel Point would be rebuilt to charge them overnight.",
        "Opposition members asked why the order was not put out to tender across the whole region."]
LIGHTHOUSE = ["The Skerry Head lighthouse will be lit again on Saturday for the first time since 1987, the heritage "
              "trust announced.",
              "Volunteers spent three winters restoring the lamp room and the brass lens, which was found in a "
              "museum store in Aberdeen after a two-year search by the trust's archivist Moira Kell.",
              "The light will shine every evening during the summer season."]


def ask_quotes(engine: Engine, question: str) -> list[tuple[str, str]]:
    return [(r.quote, r.path) for r in engine.ask(question, asked_at=None).results]


@pytest.fixture
async def site():
    s = await FeedSite().start()
    s.pages["/"] = (200, "text/html", (f"<html><head><title>Harbour Times</title>"
                                       f"<link rel='alternate' type='application/rss+xml' title='RSS' href='/rss.xml'>"
                                       f"<link rel='alternate' type='application/atom+xml' href='/atom.xml'>"
                                       f"</head><body>Home</body></html>").encode())
    s.article("/articles/ferry.html", "Ferry Marigold Star sets a record", FERRY)
    s.article("/articles/bridge.html", "Calloway bridge reopens", BRIDGE)
    s.article("/articles/tram.html", "Nine battery trams for the coastal line", TRAM)
    s.rss = [Entry("/articles/ferry.html", "Ferry Marigold Star sets a record", "Tue, 18 Nov 2026 09:00:00 GMT"),
             Entry("/articles/bridge.html", "Calloway bridge reopens", "Wed, 19 Nov 2026 09:00:00 GMT")]
    s.atom = [Entry("/articles/bridge.html", "Calloway bridge reopens", "2026-11-19T09:00:00Z"),
              Entry("/articles/tram.html", "Nine battery trams for the coastal line", "2026-11-20T08:00:00Z")]
    yield s
    await s.stop()


@pytest.fixture
def engine(tmp_path, embedder) -> Engine:
    (tmp_path / "corpus").mkdir()
    settings = Settings(_env_file=None, corpus=tmp_path / "corpus", data=tmp_path / "data", progress=False,
                        fetch_allow_private=True)
    return Engine(settings, embedder=embedder)


async def test_follow_poll_answer_then_304_unchanged_new_updated_and_removed(site, engine):
    follower = engine_follower(engine, host_interval=0.01)
    corpus = Path(engine.settings.corpus)

    found = await follower.follow(site.url("/"))  # the home page announces its feeds
    assert (found.feed, found.title, found.entries, found.new) == (site.url("/rss.xml"), "Harbour Times", 2, True)
    assert found.also == [site.url("/atom.xml")]
    atom = await follower.follow(site.url("/atom.xml"))
    assert (atom.title, atom.entries) == ("Bay Courier", 2)
    assert site.article_hits() == ["/"]  # following fetches feeds, not articles

    report = await follower.poll()
    assert sorted(a.title for a in report.new) == ["Calloway bridge reopens", "Ferry Marigold Star sets a record",
                                                   "Nine battery trams for the coastal line"]
    assert sorted(site.article_hits()) == ["/", "/articles/bridge.html", "/articles/ferry.html", "/articles/tram.html"]
    assert report.index is not None and report.index.added == 3
    ferry = next(a for a in report.new if "Ferry" in (a.title or ""))
    assert ferry.path.startswith("feeds/127.0.0.1/") and ferry.publisher == "Harbour Times"
    text = (corpus / ferry.path).read_text()
    assert text.startswith("---\ntitle: \"Ferry Marigold Star sets a record\"\ndate: \"2026-11-18\"\n"
                           "publisher: \"Harbour Times\"\nauthor: \"Dana Whitlock\"\n")
    assert f'url: "{site.url("/articles/ferry.html")}"' in text  # canonical: no ?utm_source
    assert f'feed: "{site.url("/rss.xml")}"' in text and "4,812 passengers" in text

    quotes = ask_quotes(engine, "How many passengers did the Marigold Star carry on its maiden voyage?")
    assert "4,812 passengers" in quotes[0][0] and quotes[0][1] == ferry.path
    quotes = ask_quotes(engine, "How many battery trams will the city order for the coastal line?")
    assert "nine battery trams" in quotes[0][0]
    status = {s.url: s for s in follower.statuses()}
    assert sum(s.items for s in status.values()) == 3 and all(s.last_fetch and s.last_new for s in status.values())

    site.hits.clear()  # both feeds answer 304 to the conditional requests: nothing else is fetched
    report = await follower.poll()
    assert [f.state for f in report.feeds] == ["not modified", "not modified"]
    assert site.hits == ["/rss.xml", "/atom.xml"] or sorted(site.hits) == ["/atom.xml", "/rss.xml"]
    site.atom_modified += 60  # a new Last-Modified but the same document: unchanged, no article fetched
    site.hits.clear()
    report = await follower.poll()
    assert {f.feed: f.state for f in report.feeds}[site.url("/atom.xml")] == "unchanged"
    assert site.article_hits() == [] and report.articles == []

    site.article("/articles/lighthouse.html", "Skerry Head lighthouse lit again", LIGHTHOUSE)
    site.rss.insert(0, Entry("/articles/lighthouse.html", "Skerry Head lighthouse lit again",
                             "Fri, 21 Nov 2026 07:00:00 GMT"))
    site.hits.clear()
    report = await follower.poll()
    assert [a.title for a in report.new] == ["Skerry Head lighthouse lit again"]
    assert site.article_hits() == ["/articles/lighthouse.html"]  # the known ferry and bridge are not fetched again
    quotes = ask_quotes(engine, "Since when had the Skerry Head lighthouse been dark?")
    assert any("1987" in q for q, _ in quotes)

    bridge = next(p for p in (corpus / "feeds/127.0.0.1").iterdir() if p.name.startswith("bridge-"))
    site.article("/articles/bridge.html", "Calloway bridge reopens",
                 [BRIDGE[0].replace("2.3 million", "3.1 million"), *BRIDGE[1:]])
    site.atom[0] = Entry("/articles/bridge.html", "Calloway bridge reopens", "2026-11-21T12:00:00Z")
    site.atom_modified += 60
    report = await follower.poll()
    assert [(a.title, a.updated) for a in report.articles] == [("Calloway bridge reopens", True)]
    assert report.index is not None and report.index.updated == 1
    assert "3.1 million" in bridge.read_text() and "2.3 million" not in bridge.read_text()
    quotes = ask_quotes(engine, "How much did the repair of the Calloway swing bridge cost?")
    assert any("3.1 million euros" in q for q, _ in quotes)
    assert not any("2.3 million" in q for q, _ in quotes)

    site.rss = [e for e in site.rss if "ferry" not in e.path]  # a removed item stays: it was published
    report = await follower.poll()
    assert (corpus / ferry.path).exists() and report.articles == []
    quotes = ask_quotes(engine, "How many passengers did the Marigold Star carry on its maiden voyage?")
    assert "4,812 passengers" in quotes[0][0]


async def test_broken_feed_404_huge_page_refused_redirect_and_unreadable_pages_are_reported(tmp_path, embedder):
    site = await FeedSite().start()
    inner = await FeedSite(host="127.0.0.2").start()  # another loopback address: not in the allowed range
    try:
        settings = Settings(_env_file=None, corpus=tmp_path / "corpus", data=tmp_path / "data", progress=False,
                            fetch_allow_networks="127.0.0.1/32", max_file_mb=1)
        engine = Engine(settings, embedder=embedder)
        follower = engine_follower(engine, host_interval=0.01)
        inner.article("/secret.html", "Intranet memo", BRIDGE)
        site.article("/articles/ferry.html", "Ferry Marigold Star sets a record", FERRY)
        site.article("/articles/teaser.html", "Read more", ["Subscribe to read this story."])
        site.article("/private/memo.html", "Private", TRAM)
        site.pages["/report.pdf"] = (200, "application/pdf", b"%PDF-1.4 not really")
        site.redirects["/articles/moved.html"] = inner.url("/secret.html")
        site.rss = [Entry(p, p.rsplit("/", 1)[-1], "Tue, 18 Nov 2026 09:00:00 GMT")
                    for p in ("/articles/missing.html", "/huge.html", "/articles/moved.html",
                              "/articles/teaser.html", "/private/memo.html", "/report.pdf", "/articles/ferry.html")]
        site.atom = [Entry("/articles/ferry.html", "Ferry", "2026-11-18T09:00:00Z")]
        await follower.follow(site.url("/rss.xml"))
        await follower.follow(site.url("/atom.xml"))
        site.atom_modified += 1
        site.pages["/atom.xml"] = (200, "text/html", b"<html><body>Server maintenance, back soon</body></html>")
        broken = site.url("/atom.xml")

        report = await follower.poll()
        outcome = {f.feed: f for f in report.feeds}
        assert outcome[broken].state == "failed" and outcome[broken].error == "not an RSS or Atom feed"
        rss = outcome[site.url("/rss.xml")]
        assert [a.title for a in report.new] == ["ferry.html"] and rss.saved == 1
        reasons = {url.rsplit("/", 1)[-1]: reason for url, reason in rss.skipped}
        assert reasons == {
            "missing.html": "HTTP 404",
            "huge.html": "larger than the size limit",
            "moved.html": "Could not fetch that URL",
            "teaser.html": reasons["teaser.html"],
            "memo.html": "disallowed by robots.txt",
            "report.pdf": "not an HTML page (application/pdf)",
        }
        assert reasons["teaser.html"].startswith("no article text extracted (")
        assert inner.hits == []  # the redirect to 127.0.0.2 was never followed
        assert site.big_sent < 10 * MB and "/private/memo.html" not in site.hits
        assert report.index is not None and report.index.added == 1
        assert sorted(p.name for p in (tmp_path / "corpus/feeds/127.0.0.1").iterdir()) == [
            next(a.path for a in report.new).rsplit("/", 1)[-1]]  # nothing half-empty saved
        assert "4,812 passengers" in ask_quotes(engine, "How many passengers did the Marigold Star carry?")[0][0]

        status = {s.url: s for s in follower.statuses()}
        assert status[broken].last_error == "not an RSS or Atom feed" and status[broken].retry_at
        assert len(status[site.url("/rss.xml")].skipped) == 6

        site.hits.clear()  # the broken feed backs off; the good one goes on
        report = await follower.poll()
        assert {f.feed: f.state for f in report.feeds} == {broken: "backing off",
                                                           site.url("/rss.xml"): "not modified"}
        assert site.hits == ["/rss.xml"]
    finally:
        await site.stop()
        await inner.stop()


async def test_cli_follow_poll_feeds_unfollow(site, tmp_path, capsys, monkeypatch):
    """The terminal commands over the same loopback site (the engine here loads its own model for the index)."""
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOW_PRIVATE", "true")
    common = ["--corpus", str(tmp_path / "corpus"), "--data", str(tmp_path / "data")]
    assert await _cli(["follow", site.url("/"), *common]) == 0
    assert f"following Harbour Times <{site.url('/rss.xml')}> (2 entries now)" in capsys.readouterr().out
    assert await _cli(["feeds", "--json", *common]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(f["url"], f["items"], f["last_error"]) for f in listed] == [(site.url("/rss.xml"), 0, None)]
    assert await _cli(["unfollow", site.url("/"), *common]) == 0  # by the page it was found on
    assert f"stopped following {site.url('/rss.xml')}" in capsys.readouterr().out
    assert await _cli(["feeds", *common]) == 0
    assert "no feeds followed" in capsys.readouterr().out
    assert await _cli(["unfollow", site.url("/"), *common]) == 2


async def test_settings_feeds_are_followed_and_a_refused_one_is_reported(site, tmp_path):
    settings = Settings(_env_file=None, corpus=tmp_path / "corpus", data=tmp_path / "data",
                        feeds=f"{site.url('/atom.xml')}, http://127.0.0.1:9/closed.xml, {site.url('/')}")
    follower = Follower(settings, host_interval=0.01)  # no fetch_allow_private: loopback is refused
    report = await follower.poll()
    assert [(f.state, f.error) for f in report.feeds] == [
        ("failed", f"Could not fetch that URL: {site.url('/atom.xml')}"),
        ("failed", "Could not fetch that URL: http://127.0.0.1:9/closed.xml"),
        ("failed", f"Could not fetch that URL: {site.url('/')}")]
    assert site.hits == []  # refused before any connection
    listed = {s.url: s for s in follower.statuses()}  # listed with their errors, backing off
    assert listed[site.url("/atom.xml")].last_error == f"Could not fetch that URL: {site.url('/atom.xml')}"
    assert all(s.retry_at and s.from_settings for s in listed.values())

    allowed = Follower(settings.model_copy(update={"fetch_allow_private": True}), host_interval=0.01)
    report = await allowed.poll(force=True)  # the site is reachable now; the port is still closed
    assert sorted(f.state for f in report.feeds) == ["failed", "followed", "new"]  # the home page: its feed found
    assert sorted(a.title for a in report.new) == ["Calloway bridge reopens", "Nine battery trams for the coastal line"]
    listed = {s.url: s for s in allowed.statuses()}
    assert sorted(listed) == sorted([site.url("/atom.xml"), "http://127.0.0.1:9/closed.xml", site.url("/rss.xml")])
    assert listed[site.url("/atom.xml")].title == "Bay Courier" and listed[site.url("/rss.xml")].from_settings
    report = await allowed.poll(force=True)
    assert [a.title for a in report.new] == ["Ferry Marigold Star sets a record"]  # the bridge is known already


async def _cli(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(cli_main, argv)  # the CLI runs its own event loop


async def test_watch_follows_the_feeds_of_the_setting(site, tmp_path):
    """`newsdesk watch` (a real process) polls NEWSDESK_FEEDS and indexes what it saves; stopped by Ctrl-C."""
    import asyncio
    import os
    import signal
    import sys

    env = {**os.environ, "NEWSDESK_FEEDS": site.url("/rss.xml"), "NEWSDESK_FETCH_ALLOW_PRIVATE": "true",
           "NEWSDESK_CORPUS": str(tmp_path / "corpus"), "NEWSDESK_DATA": str(tmp_path / "data")}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "newsdesk.bot.cli", "watch", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    lines: list[str] = []
    try:
        while not any("feeds: Harbour Times: 2 new" in line for line in lines):
            line = await asyncio.wait_for(proc.stdout.readline(), 120)  # type: ignore[union-attr]
            assert line, f"watch ended early: {lines}"
            lines.append(line.decode())
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
    saved = sorted(p.name.split("-")[0] for p in (tmp_path / "corpus/feeds/127.0.0.1").iterdir())
    assert saved == ["bridge", "ferry"]
    state = Follower(Settings(_env_file=None, corpus=tmp_path / "corpus", data=tmp_path / "data",
                              feeds=site.url("/rss.xml"))).statuses()
    assert [(s.url, s.items, s.from_settings) for s in state] == [(site.url("/rss.xml"), 2, True)]


async def test_one_request_a_second_per_host_and_a_busy_index_catches_up(site, engine):
    """Default pacing (one request a second to a host), and files saved while the index was busy (another
    writer held the lock) are indexed by the next poll, though the feed did not change."""
    from newsdesk.index.errors import IndexLocked

    calls: list[list[str]] = []

    def index(paths: list[str]):
        calls.append(list(paths))
        if len(calls) == 1:
            raise IndexLocked("another index run holds the lock")
        return engine.index(paths=paths, progress=False)

    site.atom = []
    follower = Follower(engine.settings, index=index)
    await follower.follow(site.url("/rss.xml"))
    site.arrivals.clear()
    report = await follower.poll()
    assert len(report.new) == 2 and report.index is None
    assert report.index_error == "IndexLocked: another index run holds the lock"
    gaps = [b - a for a, b in zip(site.arrivals, site.arrivals[1:])]
    assert len(gaps) == 2 and min(gaps) >= 0.95  # rss, ferry, bridge (robots.txt was read when following)

    report = await follower.poll()
    assert report.feeds[0].state == "not modified" and report.index is not None and report.index.added == 2
    assert calls[1] == calls[0] and len(calls[0]) == 2  # the same two files, indexed now
    assert "4,812 passengers" in ask_quotes(engine, "How many passengers did the Marigold Star carry?")[0][0]

