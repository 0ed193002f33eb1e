"""Issue 13, item 3: /add never loses or silently replaces an article. Over the Discord fake with the real Engine
(its own corpus copy). A name collision is saved under a distinct name and the reply says so; content that cannot
be indexed leaves the old file and its index entry as they were."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.discord_fake import ADMIN

SITE_A = b"""<html><head><title>Harbour ferry sets a record</title></head><body><article>
<h1>Harbour ferry sets a record</h1>
<p>The new harbour ferry Marigold Star carried 4,812 passengers on its maiden voyage across the bay, the port
authority said on Tuesday. The crossing took 38 minutes.</p>
<p>The ferry was built at the Larchmont shipyard and is the first in the fleet to run on batteries.</p>
</article></body></html>"""
SITE_B = b"""<html><head><title>Valley orchard wins prize</title></head><body><article>
<h1>Valley orchard wins prize</h1>
<p>The Quenby Valley orchard won the county prize for its pears on Saturday, the judges said. The orchard has
grown pears for ninety years.</p>
<p>Its owner, Tamsin Orrel, said the prize belonged to the pickers.</p>
</article></body></html>"""


@pytest.fixture
def corpus(sample_engine) -> Path:
    return Path(sample_engine.settings.corpus)


async def add(discord_fake, name: str, data: bytes, content_type: str = "text/html") -> str:
    interaction = await discord_fake.send_slash("add", {"file": discord_fake.attachment(name, data, content_type)},
                                                user=ADMIN)
    await discord_fake.wait_response(interaction, timeout=60)
    return interaction.text()


async def ask(discord_fake, question: str) -> str:
    asked = await discord_fake.send_slash("ask", {"question": question})
    await discord_fake.wait_response(asked, timeout=60)
    return asked.text()


async def test_two_sites_index_html_both_kept(sample_engine, discord_fake, start_discord_bot, corpus):
    await start_discord_bot(sample_engine)
    first = await add(discord_fake, "index.html", SITE_A)
    assert "Added index.html" in first and "already" not in first
    second = await add(discord_fake, "index.html", SITE_B)
    assert ("`index.html` already holds a different file, which was kept: this upload was saved as "
            "`index-2.html`.") in second, second
    assert "Added index-2.html" in second
    assert (corpus / "index.html").read_bytes() == SITE_A and (corpus / "index-2.html").read_bytes() == SITE_B
    assert "4,812 passengers" in await ask(discord_fake, "How many passengers did the Marigold Star carry?")
    assert "`index-2.html`" in await ask(discord_fake, "Which orchard won the county prize for its pears?")
    again = await add(discord_fake, "index.html", SITE_A)  # the same bytes again: nothing changes
    assert "`index.html` is already in the corpus with exactly this content; nothing changed." in again
    assert sorted(p.name for p in corpus.glob("index*")) == ["index-2.html", "index.html"]
    assert not list(corpus.glob(".upload-*"))


async def test_failed_reupload_keeps_the_old_article(sample_engine, discord_fake, start_discord_bot, corpus):
    await start_discord_bot(sample_engine)
    assert "Added ferry.html" in await add(discord_fake, "ferry.html", SITE_A)
    broken = b"<html><body>" + b"<b></b>" * 250_000 + b"</body></html>"  # a markup bomb: no document comes of it
    reply = await add(discord_fake, "ferry.html", broken)
    assert reply.startswith("Could not add `ferry.html`: ferry.html could not be indexed: HTML with 500,004 tags"), reply
    assert "kept" not in reply  # no promise that is not kept
    assert (corpus / "ferry.html").read_bytes() == SITE_A
    assert sorted(p.name for p in corpus.glob("ferry*")) == ["ferry.html"] and not list(corpus.glob(".upload-*"))
    text = await ask(discord_fake, "How many passengers did the Marigold Star carry?")
    assert "4,812 passengers" in text and "`ferry.html`" in text


async def test_hostile_upload_is_refused_and_the_bot_keeps_answering(sample_engine, discord_fake, start_discord_bot,
                                                                     corpus):
    """A 400-byte YAML alias bomb used to grow the bot's own process to 23 GB: it is read in a bounded worker and
    refused with its reason."""
    from tests.test_hostile import YAML_BOMB

    await start_discord_bot(sample_engine)
    reply = await add(discord_fake, "bomb.md", YAML_BOMB.encode(), "text/markdown")
    assert reply == ("Could not add `bomb.md`: bomb.md could not be indexed: front matter uses YAML aliases "
                     "(refused: a few aliases can expand to gigabytes)"), reply
    assert not (corpus / "bomb.md").exists()
    assert "Pompeo" in await ask(discord_fake, "what did Pompeo say on April 7?")
