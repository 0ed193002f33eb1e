"""Load one corpus file (.txt, .md, .html, .pdf) into a cleaned `Document`.

Every failure caused by the file itself is raised as `DocumentError` with a short user-facing reason;
nothing else escapes `load_document` for bad input. Sizes are in MB of 1024 * 1024 bytes, the unit the
indexer uses for `max_file_mb`.
"""
from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

from newsdesk.index.acceptance import SUPPORTED_SUFFIXES, too_large
from newsdesk.index.cleaning import CleanResult, clean_text, normalize_date
from newsdesk.index.records import Document, Span

try:  # PyYAML comes with huggingface_hub; the flat parser below covers its absence and broken YAML.
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

log = logging.getLogger(__name__)

__all__ = ["SUPPORTED_SUFFIXES", "DocumentError", "inside", "load_document", "not_regular", "read_regular"]



class DocumentError(Exception):
    """Raised with a short user-facing reason, e.g. 'empty file', 'binary file (not text)', 'not valid UTF-8
    text', 'file too large (25.3 MB > 20 MB)', 'unsupported type .docx', 'unreadable PDF: ...', 'no text
    extracted'."""


def load_document(path: Path, corpus_root: Path, *, max_bytes: int, data: bytes | None = None) -> Document:
    """Read, extract, clean; return a Document with path relative to corpus_root (posix), text = clean text,
    metadata, comment spans and content_hash = sha256 hex of the raw bytes. `data`: the bytes, already read
    with `read_regular`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"unsupported type {suffix or '(no extension)'}")
    if data is None:
        data = read_regular(path, corpus_root, int(max_bytes))
    if not data.strip():
        raise DocumentError("empty file")
    try:
        if suffix == ".pdf":
            fields = _load_pdf(data)
        else:
            text = _decode_html(data) if suffix in (".html", ".htm") else _decode(data)
            if not text.strip("\ufeff \t\r\n\f\v\u00a0"):
                raise DocumentError("empty file")
            if suffix in (".html", ".htm"):
                fields = _load_html(text)
            elif suffix in (".md", ".markdown"):
                fields = _load_markdown(text)
            else:
                fields = _fields(clean_text(text))
    except DocumentError:
        raise
    except Exception as exc:  # a parser tripping over odd input is still a bad file, not a crash
        log.debug("extraction failed for %s", path, exc_info=True)
        raise DocumentError(f"could not extract text ({type(exc).__name__}: {str(exc)[:80]})") from exc
    if not fields["text"].strip():
        raise DocumentError("no text extracted")
    doc = Document(path=_relative(path, corpus_root), content_hash=hashlib.sha256(data).hexdigest(), **fields)
    log.debug("loaded %s: %d chars, title=%r", doc.path, len(doc.text), doc.title)
    return doc


def _relative(path: Path, root: Path) -> str:
    for p, r in ((path, root), (path.resolve(), Path(root).resolve())):
        try:
            return p.relative_to(r).as_posix()
        except ValueError:
            continue
    log.warning("%s is outside the corpus folder %s", path, root)
    return path.name




_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


def not_regular(mode: int) -> str:
    """Why a file of this st_mode is not read ("not a regular file (a FIFO)"), or "" for a regular file."""
    if stat.S_ISREG(mode):
        return ""
    kind = next((name for test, name in _KINDS if test(mode)), "not a plain file")
    return f"not a regular file ({kind})"


def inside(path: Path | str, root: Path | str) -> bool:
    """Whether `path`, all symlinks resolved, lies inside the folder `root` (resolved too)."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def read_regular(path: Path, corpus_root: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file inside the corpus. A symlink may point anywhere inside the corpus folder, never
    out of it; a FIFO, socket or device is refused without blocking (opened non-blocking, checked by fstat on the
    open descriptor, so a file swapped for a FIFO after the scan is refused too); an oversized file is refused
    before it is read."""
    if not inside(path, corpus_root):
        raise DocumentError("symlink to a file outside the corpus folder (not read)")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise DocumentError(f"unreadable file ({exc.strerror or exc})") from exc
    try:
        st = os.fstat(fd)
        if why := not_regular(st.st_mode):
            raise DocumentError(why)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > max_bytes:
            raise DocumentError(too_large(st.st_size, max_bytes))
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise DocumentError(f"unreadable file ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:
        raise DocumentError(too_large(len(data), max_bytes, at_least=True))
    return data


_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _decode(data: bytes, declared: str | None = None) -> str:
    """UTF-8 (BOM allowed; UTF-16 with a BOM too). Otherwise the `declared` charset (an HTML page's own), or
    cp1252 when the bytes clearly are not UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError("not valid UTF-16 text") from exc
        if _CONTROL.search(text.encode("utf-8")[:65536]):
            raise DocumentError("binary file (not text)")
        return text
    sample = data[:65536]
    if b"\x00" in data or len(_CONTROL.findall(sample)) > max(2, len(sample) // 100):
        raise DocumentError("binary file (not text)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DocumentError(f"not valid {declared} text") from exc
    high = len(data) - len(data.translate(None, bytes(range(0x80, 0x100))))
    utf8_bytes = sum(len(m) for m in _UTF8_SEQ.findall(data))
    if utf8_bytes * 2 >= high:  # mostly well-formed UTF-8 with a few broken bytes: corrupt, not cp1252
        raise DocumentError("not valid UTF-8 text")
    try:
        text = data.decode("cp1252")
    except (UnicodeDecodeError, LookupError) as exc:
        raise DocumentError("not valid UTF-8 text") from exc
    if high > len(data) * 0.3:
        raise DocumentError("not valid UTF-8 text")
    log.info("decoded as cp1252 (not UTF-8)")
    return text


def _fields(res: CleanResult, **meta: Any) -> dict[str, Any]:
    """Document fields: metadata wins over what cleaning guessed from the text."""
    return {
        "text": res.text,
        "title": meta.get("title") or res.title,
        "source": meta.get("source") or res.source,
        "date": meta.get("date") or res.date,
        "url": meta.get("url"),
        "author": meta.get("author") or res.author,
        "comments": list(res.comments),
    }


def _str(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v).strip() for v in value if v is not None and str(v).strip())
    if value is None or isinstance(value, (dict, bool)):
        return None
    return " ".join(str(value).split()) or None


# ---------------------------------------------------------------- markdown
_FRONT = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.S | re.M)
_KEYS = {
    "title": ("title", "headline"),
    "date": ("date", "published", "pubdate", "date_published", "published_at", "publish_date"),
    "source": ("source", "publisher", "publication", "site_name", "sitename", "site"),
    "url": ("url", "link", "canonical_url", "canonical", "source_url"),
    "author": ("author", "authors", "byline"),
}


def _flat_yaml(block: str) -> dict[str, Any]:
    """Careful minimal parser: `key: value` lines and `- item` lists; quotes around values removed."""
    out: dict[str, Any] = {}
    key = None
    for line in block.splitlines():
        if m := re.match(r"([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$", line):
            key, value = m.group(1).lower(), (m.group(2) or "").strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[key] = value if value else []
        elif (m := re.match(r"\s+-\s+(.*)$", line)) and key and isinstance(out.get(key), list):
            out[key].append(m.group(1).strip().strip("'\""))
    return out


FRONT_MATTER_MAX = 64 * 1024  # bytes of front matter: metadata, never an article's worth
FRONT_MATTER_DEPTH = 16  # nesting of YAML collections


class _Refused(Exception):
    """Front matter newsdesk will not parse, with the user-facing reason."""


if yaml is not None:
    class _BoundedLoader(yaml.SafeLoader):
        """yaml.SafeLoader without aliases (`*name`: a few hundred bytes of nested aliases expand to gigabytes, the
        "billion laughs") and with bounded nesting. A SafeLoader builds only plain types; this also bounds size."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise _Refused("front matter uses YAML aliases (refused: a few aliases can expand to gigabytes)")
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > FRONT_MATTER_DEPTH:
                    raise _Refused(f"front matter nested more than {FRONT_MATTER_DEPTH} levels deep")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1


def _safe_yaml(block: str) -> Any:
    """The front matter block parsed as YAML, bounded (size, no aliases, depth); DocumentError when refused."""
    if len(block) > FRONT_MATTER_MAX:
        raise DocumentError(f"front matter larger than {FRONT_MATTER_MAX // 1024} KB")
    loader = _BoundedLoader(block)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise DocumentError(str(exc)) from None
    finally:
        loader.dispose()


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    m = _FRONT.match(text.lstrip("\ufeff"))
    if not m:
        return {}, text
    meta: Any = None
    if yaml is not None:
        try:
            meta = _safe_yaml(m.group(1))
        except yaml.YAMLError as exc:
            log.info("front matter is not valid YAML (%s); reading it as flat key: value lines", exc)
    if not isinstance(meta, dict) or not meta:
        meta = _flat_yaml(m.group(1))
        if not any(k in meta for names in _KEYS.values() for k in names):
            return {}, text  # a leading "---" rule, not front matter
    meta = {str(k).lower(): v for k, v in meta.items()}
    found: dict[str, Any] = {}
    for field, names in _KEYS.items():
        value = next((meta[k] for k in names if meta.get(k) not in (None, "", [])), None)
        found[field] = normalize_date(value if not isinstance(value, str) else value.strip()) \
            if field == "date" else _str(value)
    return found, text.lstrip("\ufeff")[m.end():]


_MD_INLINE = [  # bounded, non-overlapping patterns: linear time even on hostile input
    (re.compile(r"!\[([^\]\n]{0,300})\]\([^)\n]{0,500}\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\]\n]{1,300})\]\((?:[^()\s]|\([^()\s]{0,200}\)){0,500}(?:\s+\"[^\"\n]{0,200}\")?\)"), r"\1"),
    (re.compile(r"\[([^\]\n]{1,300})\]\[[^\]\n]{0,100}\]"), r"\1"),  # [text][ref]
    (re.compile(r"<(https?://[^>\s]{1,500})>"), r"\1"),
    (re.compile(r"\*\*(?=\S)([^*\n]{1,300}?)(?<=\S)\*\*"), r"\1"),
    (re.compile(r"__(?=\S)([^_\n]{1,300}?)(?<=\S)__"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]{1,300}?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]{1,300}?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)([^~\n]{1,300}?)(?<=\S)~~"), r"\1"),
    (re.compile(r"`([^`\n]{1,300})`"), r"\1"),
    (re.compile(r"</?(?:em|strong|b|i|u|span|sup|sub|a|br|mark|small)\b[^<>\n]{0,300}>"), ""),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|])"), r"\1"),
]


def _strip_html_comments(s: str) -> str:
    out, i = [], 0
    while (j := s.find("<!--", i)) != -1 and (k := s.find("-->", j + 4)) != -1:
        out.append(s[i:j])
        i = k + 3
    out.append(s[i:])
    return "".join(out)


def _markdown_to_text(md: str) -> str:
    """Markdown as the text a reader sees: markers and link targets removed, one line per source line."""
    md = _strip_html_comments(md)
    out: list[str] = []
    fenced = False
    for line in md.splitlines():
        if re.match(r"\s*(```|~~~)", line):
            fenced = not fenced
            out.append("")
            continue
        if fenced:
            out.append(line)
            continue
        if re.fullmatch(r"\s*([-*_])(\s*\1){2,}\s*|\s*=+\s*|\s*\[[^\]]+\]:\s*\S+.*", line):
            out.append("")  # rules, setext underlines, link reference definitions
            continue
        line = re.sub(r"^\s*(?:>\s?)+", "", line)
        if heading := re.match(r"\s*#{1,6}\s+", line):
            line = line[heading.end():].rstrip()
            bare = line.rstrip("#")
            line = bare.rstrip() if not bare or bare[-1].isspace() else line  # closing "##" of "## Title ##"
        line = re.sub(r"^\s*[-*+]\s+(?:\[[ xX]\]\s+)?", "", line)
        for rx, repl in _MD_INLINE:
            line = rx.sub(repl, line)
        out.append(line)
    return "\n".join(out)


def _load_markdown(text: str) -> dict[str, Any]:
    meta, body = _front_matter(text.replace("\r\n", "\n").replace("\r", "\n"))
    return _fields(clean_text(_markdown_to_text(body), title=meta.get("title")), **meta)


# ---------------------------------------------------------------- html
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)


def _decode_html(data: bytes) -> str:
    """UTF-8 first; otherwise the charset the page declares; otherwise the cp1252 fallback."""
    found = _META_CHARSET.search(data[:4096])
    charset: str | None = found.group(1).decode("ascii", "replace").lower() if found else None
    try:
        if charset is None or codecs.lookup(charset).name in ("utf-8", "iso8859-1", "ascii", "cp1252"):
            charset = None  # UTF-8 or the cp1252 fallback (what browsers do with latin-1 labels)
    except LookupError:
        charset = None
    return _decode(data, declared=charset)


def _inline_text(el: Any) -> str:
    """Text of an element; <lb/> and nested blocks become line breaks."""
    parts: list[str] = []

    def walk(e: Any) -> None:
        block = e.tag in ("p", "head", "item", "row", "quote", "list", "lb")
        if block:
            parts.append("\n")
        parts.append(e.text or "")
        for child in e:
            walk(child)
            parts.append(child.tail or "")
        if block:
            parts.append("\n")

    walk(el)
    return "\n".join(" ".join(line.split()) for line in "".join(parts).split("\n"))


def _html_blocks(body: Any) -> list[str]:
    """trafilatura's body tree as paragraphs; list items and table rows as lines of one paragraph."""
    blocks: list[str] = []
    for el in body.iterchildren():
        if el.tag == "table":
            text = "\n".join(" | ".join(_inline_text(c).replace("\n", " ").strip() for c in row.iterchildren())
                             for row in el.iter("row"))
        elif el.tag == "graphic":
            continue
        else:
            text = _inline_text(el)
        text = "\n".join(line for line in text.split("\n") if line.strip())
        if text:
            blocks.append(text)
    return blocks


HTML_MAX_TAGS = 200_000  # a long article page has a few thousand; extraction time grows with the tag count
HTML_MAX_DEPTH = 255  # libxml2 stops nesting here: deeper markup is cut, not read
_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]{0,40})[^<>]{0,2000}?(/?)>")
_UNNESTED = frozenset({"p", "li", "td", "th", "tr", "dt", "dd", "option", "br", "hr", "img", "meta", "link", "input",
                       "area", "base", "col", "embed", "source", "track", "wbr", "param"})


def _markup(html: str) -> tuple[int, int]:
    """(tags, deepest nesting) of an HTML text: a linear scan, to refuse or explain markup bombs."""
    tags = depth = deepest = 0
    for m in _TAG.finditer(html):
        tags += 1
        if m.group(3) or m.group(2).lower() in _UNNESTED:
            continue
        depth = max(0, depth - 1) if m.group(1) else depth + 1
        deepest = max(deepest, depth)
    return tags, deepest


def _no_html_text(html: str, tags: int, deepest: int) -> str:
    """Why no article text came out of a page: named, rather than a bare 'no text extracted'."""
    if deepest > HTML_MAX_DEPTH:
        return f"no text extracted: HTML nested {deepest:,} levels deep (a markup bomb? parsers stop at {HTML_MAX_DEPTH})"
    text = len(" ".join(_TAG.sub(" ", html).split()))
    if tags > 10 * max(1, text // 6):
        return f"no text extracted: {tags:,} HTML tags around {text:,} characters of text (a markup bomb?)"
    return f"no text extracted: no article text found among {tags:,} HTML tags"


def _load_html(html: str) -> dict[str, Any]:
    import trafilatura  # imported here: slow to import and only needed for HTML

    tags, deepest = _markup(html)
    if tags > HTML_MAX_TAGS:
        raise DocumentError(f"HTML with {tags:,} tags (over {HTML_MAX_TAGS:,}; a markup bomb?)")
    extracted = None
    for recall in (False, True):
        extracted = trafilatura.bare_extraction(html, with_metadata=True, include_comments=True,
                                                include_tables=True, favor_recall=recall)
        if extracted is not None and (extracted.text or "").strip():
            break
    if extracted is None or not (extracted.text or "").strip():
        raise DocumentError(_no_html_text(html, tags, deepest))
    body = _html_blocks(extracted.body) if extracted.body is not None else []
    article = "\n\n".join(body) or extracted.text
    meta = {"title": _str(extracted.title), "source": _str(extracted.sitename), "url": _str(extracted.url),
            "author": _str(extracted.author), "date": normalize_date(extracted.date)}
    fields = _fields(clean_text(article, title=meta["title"]), **meta)
    comments = _html_blocks(extracted.commentsbody) if extracted.commentsbody is not None else []
    if comments:
        start = len(fields["text"]) + 2 if fields["text"] else 0
        fields["text"] = (fields["text"] + "\n\n" if fields["text"] else "") + "\n\n".join(comments)
        fields["comments"].append(Span(start, len(fields["text"])))
    return fields


# ---------------------------------------------------------------- pdf
def _load_pdf(data: bytes) -> dict[str, Any]:
    """A PDF reflowed into paragraphs (`index/pdf.py`); metadata wins over the text, except that a date the
    article states beats the file's creation time."""
    from newsdesk.index.pdf import read_pdf  # imported here: pdf.py imports this module

    pdf = read_pdf(data)
    res = clean_text(pdf.text, title=pdf.title)
    date = pdf.date if not pdf.date_from_file else (res.date or pdf.date)
    fields = _fields(res, title=pdf.title, author=pdf.author, source=pdf.source, date=date)
    fields["date_from_file"] = pdf.date_from_file and not res.date
    return fields


def _reason(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())[:100]
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
