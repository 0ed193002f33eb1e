"""Loading and cleaning documents: the two scraped samples, markdown, HTML, PDF and bad files."""
from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from newsdesk.index.cleaning import clean_text, normalize_date
from newsdesk.index.loaders import SUPPORTED_SUFFIXES, DocumentError, load_document

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
SAMPLE_000 = "000_33870d39bdde5ea7.txt"
SAMPLE_004 = "004_563c2adb94c7b42a.txt"
TITLE_000 = "Trump Greenlighted Haftar’s Attack on US-Backed Libyan Government"
TITLE_004 = ("Trump appears to contradict his own secretary of state in a phone call where he indicated the US "
             "supported an attack on Tripoli's UN-backed government")
MB = 1024 * 1024


def load(path: Path, root: Path | None = None, max_bytes: int = 20 * MB):
    return load_document(path, root or path.parent, max_bytes=max_bytes)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A corpus folder holding copies of the fixture documents."""
    for f in FIXTURES.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def make_pdf(lines: list[str], *, title: str | None = None, author: str | None = None,
             created: str | None = None) -> bytes:
    """A minimal valid one-page PDF with a Helvetica text stream, written by hand (no PDF library)."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"({esc(line)}) Tj T*" for line in lines) + " ET"
    info = " ".join(f"/{k} ({esc(v)})" for k, v in (("Title", title), ("Author", author),
                                                     ("CreationDate", created)) if v)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content.encode('latin-1'))} >>\nstream\n{content}\nendstream",
        f"<< {info} >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# ------------------------------------------------------------------ the scraped samples

def test_sample_000_title_source_and_comment(corpus: Path) -> None:
    doc = load(corpus / SAMPLE_000, corpus)
    assert doc.path == SAMPLE_000
    assert doc.title == TITLE_000
    assert doc.source == "The American Conservative"
    assert doc.text.startswith(TITLE_000 + "\n\n")
    for gone in ("Leave A Reply", "Your email address", "Source: The American Conservative", "1 Comment"):
        assert gone not in doc.text
    assert doc.content_hash == hashlib.sha256((corpus / SAMPLE_000).read_bytes()).hexdigest()
    assert len(doc.comments) == 1
    comment = doc.text[doc.comments[0].start : doc.comments[0].end]
    assert "From this piece of journalistic bullshit" in comment
    assert comment.endswith("illegal invasions and mass murder !")
    assert "Séamus Ó Néill" in comment
    article = doc.text[: doc.comments[0].start]
    assert "makes it even worse." in article and "journalistic" not in article


def test_sample_004_boilerplate_gone_and_quotes_kept(corpus: Path) -> None:
    doc = load(corpus / SAMPLE_004, corpus)
    assert doc.title == TITLE_004
    assert doc.text.startswith(TITLE_004 + "\n")
    assert doc.text.count(TITLE_004) == 1
    for gone in ("scorecard", "Home", "Military & Defense", "Advertisement", "Popular Right Now", "Read more:",
                 "READ MORE ARTICLES ON", "AP Photo/ Evan Vucci", "Thomson Reuters",
                 "Visit Business Insider's homepage", "Donald Trump Mike Pompeo Vietnam North Korea",
                 "FILE PHOTO", "REUTERS/"):
        assert gone not in doc.text, gone
    assert not re.search(r"^David Choi", doc.text, re.M)
    assert doc.author == "David Choi"
    # "Visit Business Insider's homepage for more stories." names the publisher.
    assert doc.source == "Business Insider"
    assert doc.comments == []
    for kept in (
        '"There is no military solution to the Libya conflict," Pompeo added.',
        "President Donald Trump appeared to endorse a militia's offensive against the UN-recognized government in "
        "Libya, according to American officials cited in a Bloomberg report.",
        "The National Security Council disputed Bloomberg's description of the phone call between Trump and "
        "Haftar, but did not offer any further clarification.",
        "President Donald Trump speaks as Secretary of State Mike Pompeo looks on",
        "officials told the Associated Press.",
    ):
        assert kept in doc.text, kept


@pytest.mark.parametrize("name", [SAMPLE_000, SAMPLE_004])
def test_every_kept_line_is_verbatim_from_the_raw_file(corpus: Path, name: str) -> None:
    raw = (corpus / name).read_text(encoding="utf-8")
    doc = load(corpus / name, corpus)
    for line in doc.text.split("\n"):
        assert line == line.strip()
        if line:
            assert line in raw, line
    assert "\n\n\n" not in doc.text


@pytest.mark.parametrize("name", [SAMPLE_000, SAMPLE_004])
def test_article_sentences_survive_cleaning(corpus: Path, name: str) -> None:
    """Every raw line that reads like a sentence (>= 8 words) is kept, bar the known captions/links."""
    raw = (corpus / name).read_text(encoding="utf-8")
    text = load(corpus / name, corpus).text
    allowed_gone = ("Read more:", "FILE PHOTO:", "Your email address", "3. Trump appears")
    for line in raw.splitlines():
        s = line.strip().lstrip("•").strip()
        if len(s.split()) >= 8 and not s.startswith(allowed_gone):
            assert s in text, s


def test_clean_text_rules_are_general() -> None:
    raw = "\n".join([
        "menu",
        "Home > World > Europe",
        "Bakers strike over the price of flour",
        "",
        "By Maria Rossi",
        "",
        "Published: March 3, 2020 10:15 AM",
        "",
        "Bakers across the region stopped work on Tuesday to protest against the rising price of flour.",
        "",
        "Bakers strike over the price of flour",
        "",
        "Click to share on Facebook (Opens in new window)",
        "Chip Somodevilla/Getty Images",
        "",
        "Related: Flour mills report record profits",
        "",
        "Economy Europe Italy Bread",
        "",
        "The union said the strike would continue until the government agreed to talks with the bakers.",
        "",
        "Source: The Daily Loaf",
    ])
    res = clean_text(raw)
    assert res.title == "Bakers strike over the price of flour"
    assert res.author == "Maria Rossi"
    assert res.date == "2020-03-03"
    assert res.source == "The Daily Loaf"
    assert res.text == (
        "Bakers strike over the price of flour\n\n"
        "Bakers across the region stopped work on Tuesday to protest against the rising price of flour.\n\n"
        "The union said the strike would continue until the government agreed to talks with the bakers."
    )


def test_clean_text_keeps_prose_and_wrapped_lines() -> None:
    raw = ("A Headline About Budgets\n\nThe Minister Of Finance Said On Monday That Taxes Will Rise Again.\n"
           "Donald Trump\nNorth Korea\nthe talks resumed.\n")
    text = clean_text(raw).text
    assert "Donald Trump\nNorth Korea\nthe talks resumed." in text  # lines inside a paragraph are not names
    assert "The Minister Of Finance Said On Monday That Taxes Will Rise Again." in text


def test_comment_count_near_the_top_does_not_swallow_the_article() -> None:
    raw = ("Town hall reopens after fire\n\n12 Comments\n\nThe town hall reopened on Monday, two years after a "
           "fire destroyed its roof, the mayor said.\n\nRepairs cost more than expected.\n")
    res = clean_text(raw)
    assert res.comments == []
    assert "The town hall reopened on Monday" in res.text


def test_reader_comments_become_spans() -> None:
    raw = ("Town hall reopens after fire\n\nThe town hall reopened on Monday, two years after a fire destroyed "
           "its roof, the mayor said.\n\n2 Comments\n\nAnna K says:\nApril 3, 2021 at 9:12 am\n\nAbout time too, "
           "the old building was a disgrace for years.\n\nReply\n\nTom says\n\nI miss the old roof.\n\n"
           "Leave a Comment\n\nCancel reply\n")
    res = clean_text(raw)
    quoted = [res.text[c.start : c.end] for c in res.comments]
    assert len(quoted) == 2
    assert quoted[0].startswith("Anna K says:") and quoted[0].endswith("a disgrace for years.")
    assert quoted[1] == "Tom says\n\nI miss the old roof."
    assert "Reply" not in res.text and "Leave a Comment" not in res.text and "2 Comments" not in res.text
    assert res.text.index("the mayor said.") < res.comments[0].start


def test_normalize_date() -> None:
    assert normalize_date("2019-04-18T10:00:00Z") == "2019-04-18"
    assert normalize_date("Thu, 18 Apr 2019 10:00:00 GMT") == "2019-04-18"
    assert normalize_date("April 18, 2019") == "2019-04-18"
    assert normalize_date("D:20190418120000+02'00'") == "2019-04-18"
    assert normalize_date("not a date") is None
    assert normalize_date("2019-02-30") is None


# ------------------------------------------------------------------ markdown, html, pdf

def test_markdown_front_matter(corpus: Path) -> None:
    doc = load(corpus / "harbour.md", corpus)
    assert doc.title == "Harbour: the long road to reopening"  # unquoted colon: not strict YAML, still read
    assert doc.date == "2021-03-05"
    assert doc.source == "Coastal Times"
    assert doc.url == "https://coastal.example.com/harbour"
    assert doc.author == "Ann Lee, Bo Kim"
    assert doc.text.startswith("Harbour: the long road to reopening\n\n")
    assert "The harbour reopened on Monday after three years of repairs, the port authority said" in doc.text
    assert "Fishing boats were the first to return to the quay.\nFerries resume" in doc.text
    assert '"We never gave up on this place," said harbour master Tom Reed.' in doc.text
    for gone in ("---", "title:", "**", "](", "Advertisement", "Read more", "Ferry prices"):
        assert gone not in doc.text, gone


def test_markdown_yaml_front_matter(tmp_path: Path) -> None:
    f = tmp_path / "sub" / "note.markdown"
    f.parent.mkdir()
    f.write_bytes(b"---\r\ntitle: 'Rain returns'\r\ndate: 2022-07-01\r\nauthor: Sam Hill\r\ntags: [weather]\r\n"
                  b"---\r\n\r\n<!-- draft -->Heavy rain returned to the valley on Friday after a record dry spell, "
                  b"forecasters said.\r\n")
    doc = load(f, tmp_path)
    assert doc.path == "sub/note.markdown"
    assert (doc.title, doc.date, doc.author, doc.source) == ("Rain returns", "2022-07-01", "Sam Hill", None)
    assert doc.text == "Heavy rain returned to the valley on Friday after a record dry spell, forecasters said."


def test_html_article_and_metadata(corpus: Path) -> None:
    doc = load(corpus / "bridge.html", corpus)
    assert doc.title == "Council approves new bridge over the river"
    assert doc.source == "Riverside Gazette"
    assert doc.date == "2021-03-05"
    assert doc.author == "Jane Porter"
    assert doc.url == "https://gazette.example.com/news/bridge"
    paragraphs = doc.text.split("\n\n")
    assert ("The city council voted on Tuesday to approve construction of a new pedestrian bridge over the Elm "
            "River, ending a debate that has lasted nearly a decade.") in paragraphs
    assert "Construction begins in April.\nThe old ferry will keep running until the bridge opens." in paragraphs
    for gone in ("Sport", "Advertisement", "Most popular", "Local team wins cup", "Privacy policy",
                 "All rights reserved", "Share this", "Read more", "Leave a Reply", "email address"):
        assert gone not in doc.text, gone
    assert len(doc.comments) == 1
    comment = doc.text[doc.comments[0].start : doc.comments[0].end]
    assert "I have been waiting for this bridge since I was a kid" in comment
    assert "What a waste of money" in comment
    assert "Opponents argued" not in comment


def test_pdf(tmp_path: Path) -> None:
    f = tmp_path / "harbour.pdf"
    f.write_bytes(make_pdf(
        ["Harbour reopens after three years",
         "The harbour reopened on Monday after three years of repairs (officials said).",
         "Advertisement",
         "Fishing boats were the first to return."],
        title="Harbour reopens", author="Ann Lee", created="D:20210305093000Z"))
    doc = load(f)
    assert doc.title == "Harbour reopens"
    assert doc.author == "Ann Lee"
    assert doc.date == "2021-03-05"
    assert "The harbour reopened on Monday after three years of repairs (officials said)." in doc.text
    assert "Fishing boats were the first to return." in doc.text
    assert "Advertisement" not in doc.text


def test_pdf_without_metadata_takes_first_line_as_title(tmp_path: Path) -> None:
    f = tmp_path / "plain.pdf"
    f.write_bytes(make_pdf(["Storm closes schools", "Schools across the county closed on Friday as the storm hit."]))
    doc = load(f)
    assert doc.title == "Storm closes schools"
    assert doc.date is None


def test_cp1252_text_is_decoded(tmp_path: Path) -> None:
    f = tmp_path / "legacy.txt"
    sentence = "Café owners say the new rules – announced on Monday – will cost them “thousands”."
    f.write_bytes(sentence.encode("cp1252"))
    assert sentence in load(f).text


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    f = tmp_path / "bom.txt"
    f.write_bytes(b"\xef\xbb\xbfCouncil votes for a new bridge over the river after long debate.\r\n")
    assert load(f).text == "Council votes for a new bridge over the river after long debate."


# ------------------------------------------------------------------ bad files

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.txt", b"", "empty file"),
    ("blank.md", b"  \n\t\r\n  ", "empty file"),
    ("bom-only.txt", b"\xef\xbb\xbf\n\n", "empty file"),
    ("image.txt", PNG, "binary file (not text)"),
    ("controls.html", b"\x01\x02\x03\x04\x05\x06 text \x07\x08\x0e\x0f\x10\x11" * 20, "binary file (not text)"),
    ("broken-utf8.txt", "Naïve café – the story".encode() + b" \xff\xfe and more \xc3", "not valid UTF-8 text"),
    ("undefined-cp1252.txt", b"Price rose \x81\x8d\x8f\x90 sharply", "not valid UTF-8 text"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\ngarbage", "unreadable PDF"),
    ("fake.pdf", b"This is not a PDF at all, just words.", "unreadable PDF: not a PDF file"),
    ("report.docx", b"PK\x03\x04 whatever", "unsupported type .docx"),
    ("README", b"no suffix here", "unsupported type"),
    ("only-ads.txt", b"Advertisement\n\nShare this\n", "no text extracted"),
    ("only-front-matter.md", b"---\ntitle: Nothing here\n---\n", "no text extracted"),
])
def test_bad_files_raise_document_error(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    f = tmp_path / name
    f.write_bytes(data)
    with pytest.raises(DocumentError) as info:
        load(f)
    assert str(info.value).startswith(reason), str(info.value)


def test_truncated_pdf(tmp_path: Path) -> None:
    f = tmp_path / "cut.pdf"
    f.write_bytes(make_pdf(["A line of text that will be cut off."])[:200])
    with pytest.raises(DocumentError, match=r"^unreadable PDF: "):
        load(f)


def test_oversized_file_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "big.txt"
    f.write_bytes(b"word " * 2000)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read the whole file"))
    with pytest.raises(DocumentError, match=r"^file too large \(9\.8 KB > 1 KB\)$"):
        load(f, max_bytes=1024)
    with pytest.raises(DocumentError, match=r"^file too large \(25\.3 MB > 20 MB\)$"):
        with open(f, "r+b") as fh:
            fh.truncate(int(25.3 * MB))
        load(f, max_bytes=20 * MB)


def test_unreadable_path(tmp_path: Path) -> None:
    d = tmp_path / "folder.txt"
    d.mkdir()
    with pytest.raises(DocumentError, match=r"^not a regular file \(a folder\)"):
        load(d)


def test_supported_suffixes() -> None:
    assert SUPPORTED_SUFFIXES == frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf"})


def test_sentences_split_across_odd_spaces_with_offsets_into_the_text() -> None:
    """No-break, ideographic and other spaces: sentencex 1.0.32 panicked on "V\u3000." (a Rust panic, which
    escaped every `except Exception`); the splitter sees plain spaces there and offsets still index the text."""
    from newsdesk.index.sentences import split_sentences

    text = "The mayor of V\u3000. spoke on Monday.\u2009Another sentence\u00a0follows. Mr.\u00a0Smith left.\u3000"
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == ["The mayor of V\u3000. spoke on Monday.", "Another sentence\u00a0follows.", "Mr.\u00a0Smith left."]
