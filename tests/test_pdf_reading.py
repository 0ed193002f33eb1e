"""PDFs read like the article: a generated two-column, two-page PDF with a running header, page-number
footers and a dated byline is reflowed into whole sentences, dated by its byline rather than the file's
creation time, and answers questions verbatim (including "who wrote ..." from its byline)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fpdf import FPDF

from newsdesk.bot.terminal import render_answer
from newsdesk.index.engine import Engine
from newsdesk.index.loaders import load_document
from newsdesk.index.pdf import reflow
from newsdesk.index.quotes import verify_quote
from newsdesk.index.settings import Settings

HEADER = "East Anglian Courier - Port news"
QUOTE = ('"This was a difficult choice, but the right one for the town," said councillor James Lewis, who chaired '
         'the planning committee.')
PARAGRAPHS = [
    "The council approved the expansion of Felixstowe port on Thursday after a debate that lasted more than "
    "six hours of argument and counter-argument in a packed chamber.",
    QUOTE + " He added that the town could not afford to turn away the investment.",
    "Opponents warned that the extra lorries would clog the A14 and damage the estuary, a protected habitat "
    "for wading birds and other wildlife that winter on the mudflats.",
    "The port operator said the new berths would create about 400 permanent jobs. Construction is expected "
    "to begin next spring and take three years.",
    "Residents of Trimley St Mary, the village nearest the new quay, collected 1,200 signatures against the "
    "plan and say night-time operations will keep them awake.",
    "A spokesperson for the harbour authority said noise barriers would be built along the railway line "
    "before the first ship berths at the new quay.",
    "Environmental groups are considering a legal challenge to the decision, arguing that the council "
    "ignored its own ecologist's advice on the estuary.",
    "The decision now goes to the Secretary of State, who has six weeks to decide whether to call it in for "
    "a public inquiry.",
]


class _Courier(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, HEADER, align="C")
        self.ln(8)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 10, f"Page {self.page_no()} of {{nb}}", align="C")


def make_article_pdf(path: Path) -> None:
    """Two columns of narrow, wrapped lines over two A5 pages; no title, author or date in the metadata,
    a creation date ten months after the byline's date."""
    pdf = _Courier(format=(148, 210))  # A5
    pdf.set_creation_date(dt.datetime(2023, 1, 9, tzinfo=dt.timezone.utc))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, "Felixstowe port expansion approved", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(0, 5, "By Sarah Whitmore | 3 March 2022", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    with pdf.text_columns(ncols=2, gutter=6, text_align="LEFT") as cols:
        for para in PARAGRAPHS * 3:  # long enough for a second page
            cols.write(para + "\n")
    pdf.output(str(path))


@pytest.fixture(scope="module")
def pdf_engine(tmp_path_factory, embedder) -> Engine:
    root = tmp_path_factory.mktemp("pdf-engine")
    (root / "corpus").mkdir()
    make_article_pdf(root / "corpus" / "felixstowe.pdf")
    make_undated_pdf(root / "corpus" / "ferry.pdf")
    engine = Engine(Settings(corpus=root / "corpus", data=root / "data", progress=False), embedder=embedder)
    engine.index(progress=False)
    return engine


def test_generated_pdf_really_wraps_sentences_and_spans_pages(tmp_path: Path) -> None:
    from pypdf import PdfReader

    f = tmp_path / "a.pdf"
    make_article_pdf(f)
    reader = PdfReader(f)
    raw = reader.pages[0].extract_text()
    assert len(reader.pages) == 2
    assert QUOTE not in raw  # what pypdf alone gives: the sentence split over several lines
    assert "said councillor James" in raw.replace("\n", " ") and "Page 1 of 2" in raw


def test_pdf_reads_like_the_article(tmp_path: Path) -> None:
    f = tmp_path / "felixstowe.pdf"
    make_article_pdf(f)
    doc = load_document(f, tmp_path, max_bytes=10**7)
    assert QUOTE in doc.text  # wrapped lines joined into the sentence
    assert doc.text.count(PARAGRAPHS[0]) == 3  # a paragraph that continues across the column break, whole
    assert HEADER not in doc.text and "Page 1" not in doc.text and "Page 2" not in doc.text
    assert doc.title == "Felixstowe port expansion approved"
    assert doc.author == "Sarah Whitmore"
    assert doc.date == "2022-03-03"  # the byline's date, not the file's 2023-01-09
    assert doc.source == "East Anglian Courier"  # from the running header


def make_undated_pdf(path: Path) -> None:
    """A PDF whose text states no date; only its metadata's creation time dates it."""
    pdf = FPDF()
    pdf.set_creation_date(dt.datetime(2023, 1, 9, tzinfo=dt.timezone.utc))
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Ferry timetable changes\n\nThe ferry to the island will run every two hours from "
                   "next month, the operator said on its website.")
    pdf.output(str(path))


def test_creation_time_is_the_last_resort_and_marked(tmp_path: Path) -> None:
    make_undated_pdf(tmp_path / "ferry.pdf")
    doc = load_document(tmp_path / "ferry.pdf", tmp_path, max_bytes=10**7)
    assert (doc.date, doc.date_from_file) == ("2023-01-09", True)


def test_reflow_undoes_line_end_hyphens_but_keeps_real_compounds() -> None:
    page = ["The harbour authority said the new quay would be finished before the",
            "winter storms, according to the coun-",
            "cillor who chaired the meeting, and that night-",
            "time work would stop at ten. Night-time noise was the residents' main complaint.",
            "7"]
    text = reflow([page[:-1]])
    assert "councillor who chaired" in text
    assert "night-time work" in text  # the document writes "Night-time" elsewhere: the hyphen is real
    assert "before the winter storms" in text


def test_pdf_answers_verbatim_with_date_and_author(pdf_engine: Engine) -> None:
    ans = pdf_engine.ask("What did councillor James Lewis say about the choice?")
    assert not ans.abstained
    top = ans.results[0]
    assert "This was a difficult choice, but the right one for the town" in top.quote
    assert "\n" not in top.quote
    doc = pdf_engine._store().document(top.path)  # noqa: SLF001 - the verbatim check against the clean text
    assert verify_quote(doc.text, top.quote, top.start)
    assert (top.date, top.author, top.source) == ("2022-03-03", "Sarah Whitmore", "East Anglian Courier")
    assert "by Sarah Whitmore · East Anglian Courier · 2022-03-03 · felixstowe.pdf" in render_answer(ans)


def test_a_file_date_is_shown_as_such(pdf_engine: Engine) -> None:
    ans = pdf_engine.ask("How often will the ferry to the island run?")
    top = ans.results[0]
    assert (top.path, top.date, top.date_from_file) == ("ferry.pdf", "2023-01-09", True)
    assert "2023-01-09 (file date) · ferry.pdf" in render_answer(ans)
    assert ans.to_json()["results"][0]["date"] == "2023-01-09"  # the JSON shape is unchanged


def test_who_wrote_the_article(pdf_engine: Engine) -> None:
    ans = pdf_engine.ask("Who wrote the Felixstowe article?")
    assert not ans.abstained
    assert ans.results[0].author == "Sarah Whitmore"
    assert ans.results[0].quote.startswith("The council approved the expansion of Felixstowe port")
    assert "by Sarah Whitmore" in render_answer(ans)
    # an article no title names is not taken for this one: the question goes to the passages as usual
    from newsdesk.index.authorship import answer_author

    assert answer_author("Who wrote the article about the Lowestoft bypass?", pdf_engine._store(), 5) is None  # noqa: SLF001


def test_discord_citation_names_the_author_and_marks_a_file_date(pdf_engine: Engine) -> None:
    from newsdesk.bot.discord_render import render_answer as discord_answer

    def shown(question: str) -> str:
        return "\n".join(e.description or "" for e in discord_answer(pdf_engine.ask(question)).message.embeds)

    # the date is a Discord timestamp (noon UTC of that day), shown in each reader's locale
    assert "by Sarah Whitmore · East Anglian Courier · <t:1646308800:D>" in shown("What did councillor James Lewis say?")
    assert "<t:1673265600:D> (file date)" in shown("How often will the ferry to the island run?")


def test_who_wrote_asks_about_articles_only() -> None:
    from newsdesk.index.authorship import asks_author

    assert asks_author("Who wrote the Felixstowe article?")
    assert asks_author("who is the author of the story about the port expansion")
    assert asks_author("Who wrote the poem The Mask of Anarchy?") is None  # about what an article says
    assert asks_author("What did the council decide?") is None
