"""News questions asked at a time: "what did X say (on D / about T)". A crafted archive of dated articles (front
matter dates, invented people), the real model and a real index: as-of filtering, pinned days, speakers,
abstention with a reason, junk lines, the JSON keys."""
from __future__ import annotations

import datetime as dt

import pytest

from newsdesk.index import facts
from newsdesk.index.answers import _said_on
from newsdesk.index.dates import question_dates, text_dates
from newsdesk.index.engine import Engine
from newsdesk.index.junk import junk_reason
from newsdesk.index.questions import analyze, speakers_in
from newsdesk.index.records import Span
from newsdesk.index.settings import Settings
from newsdesk.index.speakers import extract_quotations

ARTICLES = {
    # Monday 2023-06-05
    "toll.md": ("2023-06-05", "Port Alder keeps its harbour toll", """\
PORT ALDER — The council of Port Alder voted to keep the harbour toll after a long debate.

Mayor Lena White defended the toll in front of a packed hall.

"The toll keeps our ferries running and our harbour safe," White said Monday. "Without it the night ferry would stop."

Councillor Mike Dalton runs the ferry company. Councillor Mike Ferris chairs the bridge committee.

"The old bridge will reopen in May next year," Ferris said.

"The ferry is full every single morning," Dalton said.

Hide Caption 3 of 16

Lena White at the harbour. (Photo by Ann Lee/Getty Images)

Players react to the toll vote
"""),
    # Friday 2023-06-09: a Monday mentioned far from a quote dated Thursday
    "parade.md": ("2023-06-09", "Pride parade route announced", """\
On Monday the parade committee met for the first time to discuss the route along the seafront and the \
closure of several streets around the old market, which shopkeepers had asked about for weeks. The \
committee heard from residents, from the fire service and from the ferry company about the timing.

Police Chief Marcus Reed said officers would be visible along the route of the parade organised by Alder Pride.

"We will keep everyone safe at the parade," he said.

"The route is the longest we have ever had," Mayor Lena White said Thursday.
"""),
    # 2023-06-20: published after the questions asked on 2023-06-10
    "later.md": ("2023-06-20", "White on the summer festival", """\
"The summer festival will be free for every child in Port Alder," Mayor Lena White said on Tuesday.

Sara Quinn is the new harbour master of Port Alder, replacing Tom Brandt.
"""),
    "master.md": ("2023-06-01", "Harbour master profile", """\
Tom Brandt is the harbour master of Port Alder and has run the port for twelve years.
"""),
    "rates.md": ("2023-06-06", "Rates stay high", """\
Borrowing costs rose again across the country.

"Rates will stay high for some time," the Bank of England said.

"We oppose the visit," a spokesperson for China's foreign ministry said on Tuesday.
"""),
    # a person asked for by role: the text ties the office to the name once, the quote gives the surname only
    "footbridge.md": ("2023-06-07", "Harbourview opens its footbridge", """Harbourview Mayor Carl Osei cut the ribbon on the new footbridge on Wednesday morning.

"This footbridge joins the two halves of our town at last," Osei said.

"We built the footbridge on time and under budget," said engineer Priya Nand.
"""),
    # two people sharing a surname: one is only mentioned, the other speaks under his surname alone
    "signing.md": ("2023-06-08", "Harbourview signs a guard", """Market day drew a crowd, and Governor Brandon Johnson of the northern province opened the new fish hall.

Harbourview signed guard Cam Johnson on Thursday after a season in the north.

Johnson said he was happy to play by the sea at last.
"""),
}


@pytest.fixture(scope="module")
def news_engine(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("news")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, (date, title, body) in ARTICLES.items():
        (corpus / name).write_text(f'---\ntitle: "{title}"\ndate: "{date}"\n---\n\n{body}', encoding="utf-8")
    engine = Engine(Settings(corpus=corpus, data=root / "data", progress=False), embedder=embedder)
    engine.index(progress=False)
    return engine


# --- dates ------------------------------------------------------------------------------------------------------------
def test_question_dates_resolve_against_the_time_asked():
    wed = dt.date(2023, 6, 7)
    assert [str(r) for r in question_dates("What did White say on Monday?", wed)] == ["2023-06-05"]
    assert [str(r) for r in question_dates("What did White say yesterday?", wed)] == ["2023-06-06"]
    assert [str(r) for r in question_dates("What did White say last week?", wed)] == ["2023-05-29..2023-06-04"]
    # asked on a Monday, "on Monday" is a week ago
    assert [str(r) for r in question_dates("What did White say on Monday?", dt.date(2023, 6, 12))] == ["2023-06-05"]
    assert analyze("Who is the new harbour master?", wed).latest
    assert not analyze("Who is the harbour master?", wed).latest


def test_a_weekday_in_an_article_is_resolved_against_its_own_date():
    text = ARTICLES["toll.md"][2]
    monday = [d for d in text_dates(text, dt.date(2023, 6, 5)) if d.text == "Monday"]
    assert monday and str(monday[0].range) == "2023-06-05"


def test_said_on_is_the_day_the_sentence_gives_not_a_day_paragraphs_earlier():
    date, _, text = ARTICLES["parade.md"]
    info = facts.extract(text, date)
    start = text.index('"The route is')
    day, exact = _said_on(info, Span(start, text.index("\n", start)), date)
    assert (day, exact) == (dt.date(2023, 6, 8), True)  # "said Thursday", not the "On Monday" at the top
    start = text.index('"We will keep')
    day, exact = _said_on(info, Span(start, text.index("\n", start)), date)
    assert (day, exact) == (dt.date(2023, 6, 9), False)  # no day in the sentence: the publication day


# --- attribution --------------------------------------------------------------------------------------------------------
def _speakers(text: str) -> dict[str, str | None]:
    return {text[q.start : q.end][:20]: q.speaker for q in extract_quotations(text)}


def test_pronoun_after_a_named_person_is_that_person_not_the_group_named_after():
    got = _speakers(ARTICLES["parade.md"][2])
    assert got["We will keep everyon"] == "Marcus Reed"


def test_two_people_sharing_a_first_name_are_told_apart():
    got = _speakers(ARTICLES["toll.md"][2])
    assert got["The old bridge will "] == "Mike Ferris"
    assert got["The ferry is full ev"] == "Mike Dalton"
    assert got["The toll keeps our f"] == "Lena White"  # "…," White said Monday.


def test_organisations_and_their_spokespeople_are_speakers():
    got = _speakers(ARTICLES["rates.md"][2])
    assert got["Rates will stay high"] == "Bank of England"
    assert "China's foreign ministry" in got["We oppose the visit,"]
    assert speakers_in("What did China's foreign ministry say about the visit?") == ["China's foreign ministry"]
    assert speakers_in("What did Jeff Stein, Rite Aid's new CEO, say?") == ["Jeff Stein"]
    assert speakers_in("What did UAW president Shawn Fain tell members?") == ["Shawn Fain"]


# --- answers ------------------------------------------------------------------------------------------------------------
def test_a_role_in_a_question_is_the_person_the_articles_give_it():
    for question, role in (("What did Tennessee's governor say about In-N-Out?", "Tennessee's governor"),
                           ("How did the mayor of Dimmitt react to the fire?", "mayor of Dimmitt")):
        q = analyze(question)
        assert q.speakers == [role] and q.by_role
    assert not analyze("What did the governor say?").speakers  # an office alone does not say whose
    assert not analyze("What did Lena White say?").by_role


def test_asked_by_role_answers_with_that_persons_words(news_engine):
    ans = news_engine.ask("What did the mayor of Harbourview say about the footbridge?", asked_at=dt.date(2023, 6, 10))
    assert ans.results[0].speaker == "Carl Osei" and "joins the two halves" in ans.results[0].quote


def test_pinned_day_answers_with_that_days_words_and_says_when(news_engine):
    ans = news_engine.ask("What did Lena White say on Monday?", asked_at=dt.date(2023, 6, 7))
    first = ans.results[0]
    assert "The toll keeps our ferries running" in first.quote
    assert first.speaker == "Lena White" and first.said_on == "2023-06-05"
    # the whole statement, both sentences and the attribution, in one quote
    assert "Without it the night ferry would stop." in first.quote


def test_nothing_published_after_the_question_is_quoted(news_engine):
    asked = dt.date(2023, 6, 10)
    for question in ("What did Lena White say about the summer festival?", "What did Lena White say?",
                     "Who is the harbour master of Port Alder?"):
        ans = news_engine.ask(question, asked_at=asked)
        assert all(r.date <= "2023-06-10" for r in ans.results + ans.near_misses), question
    later = news_engine.ask("What did Lena White say about the summer festival?", asked_at=dt.date(2023, 6, 21))
    assert "free for every child" in later.results[0].quote


def test_latest_prefers_the_newest_evidence_as_of_the_question(news_engine):
    now = news_engine.ask("Who is the new harbour master of Port Alder?", asked_at=dt.date(2023, 6, 21))
    assert "Sara Quinn" in now.results[0].quote
    before = news_engine.ask("Who is the new harbour master of Port Alder?", asked_at=dt.date(2023, 6, 10))
    assert "Tom Brandt" in before.results[0].quote


def test_same_first_name_is_never_answered_for_the_other_person(news_engine):
    ans = news_engine.ask("What did Mike Ferris say about the bridge?", asked_at=dt.date(2023, 6, 10))
    assert ans.results[0].speaker == "Mike Ferris" and "bridge will reopen" in ans.results[0].quote
    for r in ans.results:  # Dalton's words may follow as context, never under Ferris's name
        assert ("ferry is full" in r.quote) <= (r.speaker == "Mike Dalton")
        assert (r.speaker == "Mike Ferris") <= ("bridge" in r.quote)


def test_same_surname_is_never_answered_for_the_other_person(news_engine):
    # "Johnson said ..." after "Cam Johnson" is Cam Johnson's reported speech, not Brandon Johnson's
    ans = news_engine.ask("What did Brandon Johnson say about joining Harbourview?", asked_at=dt.date(2023, 6, 10))
    assert ans.abstained and "no words of Brandon Johnson" in ans.reason
    assert all(r.speaker != "Brandon Johnson" for r in ans.near_misses)
    cam = news_engine.ask("What did Cam Johnson say about joining Harbourview?", asked_at=dt.date(2023, 6, 10))
    assert not cam.abstained and cam.results[0].speaker == "Cam Johnson"
    assert "happy to play by the sea" in cam.results[0].quote


def test_known_person_on_a_foreign_topic_abstains_with_a_reason(news_engine):
    # interest rates are in the archive, but not in any article quoting her
    ans = news_engine.ask("What did Lena White say about interest rates?", asked_at=dt.date(2023, 6, 10))
    assert ans.abstained and ans.results == []
    assert "Lena White" in ans.reason and "none about this" in ans.reason
    assert ans.to_json()["reason"] == ans.reason


def test_known_person_on_a_day_they_did_not_speak_abstains_naming_the_nearest_days(news_engine):
    ans = news_engine.ask("What did Lena White say on May 1?", asked_at=dt.date(2023, 6, 10))
    assert ans.abstained
    assert ans.reason.startswith("nothing from Lena White on 2023-05-01; nearest: 2023-06-05")


def test_unknown_person_abstains_with_a_reason(news_engine):
    ans = news_engine.ask("What did Ange Postecoglou say after the match?", asked_at=dt.date(2023, 6, 10))
    assert ans.abstained and "Ange Postecoglou" in ans.reason


def test_junk_lines_are_never_quoted_but_stay_searchable(news_engine):
    assert junk_reason("Hide Caption 3 of 16") == "gallery"
    assert junk_reason("Lena White at the harbour. (Photo by Ann Lee/Getty Images)") == "photo credit"
    assert junk_reason("Players react to the toll vote") == "teaser"
    assert junk_reason('"The ferry is full every single morning," Dalton said.') is None
    for question in ("Lena White at the harbour photo", "Hide caption gallery", "Players react to the toll vote"):
        ans = news_engine.ask(question, asked_at=dt.date(2023, 6, 10))
        for r in ans.results + ans.near_misses:
            assert "Caption" not in r.quote and "Getty" not in r.quote and r.quote != "Players react to the toll vote"
    # the caption still leads retrieval to its article
    found = news_engine.ask("Ann Lee Getty photo of Lena White", asked_at=dt.date(2023, 6, 10))
    assert any(r.path == "toll.md" for r in found.results + found.near_misses)


def test_json_has_speaker_said_on_and_also_in(news_engine):
    data = news_engine.ask("What did Mike Ferris say about the bridge?", asked_at=dt.date(2023, 6, 10)).to_json()
    r = data["results"][0]
    assert {"quote", "passage", "path", "start", "end", "title", "source", "date", "score"} <= set(r)
    assert r["speaker"] == "Mike Ferris" and r["said_on"] == "2023-06-05" and r["also_in"] == []
    assert "reason" not in data
