"""/add under the one URL policy, over the Discord fake: a loopback link is refused with the generic text and
never fetched; an attachment that declares 1 KB but sends 60 MB is stopped at the size cap."""
from __future__ import annotations

from pathlib import Path

from tests.discord_fake import ADMIN

ARTICLE = b"The harbour authority's intranet password is hunter2, the memo said on Tuesday.\n"


async def test_add_of_a_loopback_url_is_refused_with_the_generic_text(sample_engine, discord_fake,
                                                                       start_discord_bot):
    corpus = Path(sample_engine.settings.corpus)
    assert sample_engine.settings.fetch_allow_private is False
    await start_discord_bot(sample_engine)
    before = sorted(p.name for p in corpus.iterdir())
    url = discord_fake.serve_file("memo.txt", ARTICLE)  # http://127.0.0.1:<port>/files/memo.txt
    answers = []
    for link in (url, url.replace("127.0.0.1", "localhost"), "http://127.0.0.1:9/closed-port",
                 "http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/intranet/memo.txt"):
        interaction = await discord_fake.send_slash("add", {"url": link}, user=ADMIN)
        await discord_fake.wait_response(interaction)
        assert interaction.ephemeral
        answers.append(interaction.text())
    assert set(answers) == {"Could not fetch that URL. Nothing was added."}  # open, closed, metadata: all alike
    assert not any(r.path == "/files/memo.txt" for r in discord_fake.requests)  # never connected
    assert sorted(p.name for p in corpus.iterdir()) == before


async def test_an_attachment_larger_than_it_declares_is_stopped_at_the_cap(sample_engine, discord_fake,
                                                                            start_discord_bot):
    corpus = Path(sample_engine.settings.corpus)
    await start_discord_bot(sample_engine)
    before = sorted(p.name for p in corpus.iterdir())
    lying = discord_fake.attachment("tiny.txt", b"word " * (12 * 1024 * 1024), size=1024)  # 60 MB, says 1 KB
    interaction = await discord_fake.send_slash("add", {"file": lying}, user=ADMIN)
    await discord_fake.wait_response(interaction, timeout=60)
    assert interaction.text() == "`tiny.txt` is larger than the 20 MB limit."
    assert any(r.path == "/files/tiny.txt" for r in discord_fake.requests)  # it was streamed, then cut off
    assert sorted(p.name for p in corpus.iterdir()) == before
