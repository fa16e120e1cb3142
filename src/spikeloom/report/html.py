"""One self-contained HTML file: figures embedded as base64 PNG, every user string escaped.

Later pipeline stages (explanations, crossbar mapping, architecture search) contribute a
`Section` each; the report only lays them out.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikeloom.io import atomic_write_text


@dataclass(frozen=True)
class Section:
    """A report section. `body_html` must already be escaped (use `esc`/`table`);
    `figures` are (caption, PNG path) pairs embedded in order."""

    title: str
    body_html: str = ""
    figures: tuple[tuple[str, Path], ...] = field(default_factory=tuple)
    anchor: str = ""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers rounded for reading; None as an em dash."""
    if value is None:
        return "&mdash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return esc(f"{value:.{digits}g}")
    return esc(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], row_classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{esc(row_classes[i])}"' if i < len(row_classes) and row_classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{fmt(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(caption: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c9d1e0}
main{max-width:1100px;margin:0 auto;padding:8px 32px 48px}
section{background:#fff;border:1px solid #e1e5ec;border-radius:8px;padding:16px 24px;margin:18px 0}
h2{font-size:18px;margin:4px 0 12px}
table{border-collapse:collapse;font-size:13px;margin:8px 0;width:100%}
th,td{border-bottom:1px solid #e6e9ef;padding:5px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f0f2f6} tr.best td{background:#e7f6ec;font-weight:600} tr.fail td{color:#8a93a3}
figure{display:inline-block;margin:8px 12px 8px 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eef0f4}
figcaption{font-size:12px;color:#5b6475;margin-top:2px}
.verdict{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:700}
.PASS{background:#d4f2dc;color:#12622b} .FAIL{background:#fadbd8;color:#8f1d14}
nav a{margin-right:14px;color:#3556a8;text-decoration:none;font-size:14px}
code{background:#f0f2f6;padding:1px 4px;border-radius:3px}
"""


def render_report(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The complete HTML document as a string."""
    nav = " ".join(f'<a href="#{esc(s.anchor or f"s{i}")}">{esc(s.title)}</a>'
                   for i, s in enumerate(sections))
    parts = []
    for i, s in enumerate(sections):
        figs = "".join(_figure(c, p) for c, p in s.figures)
        parts.append(f'<section id="{esc(s.anchor or f"s{i}")}"><h2>{esc(s.title)}</h2>'
                     f"{s.body_html}{figs}</section>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
            f"<main><nav>{nav}</nav>{''.join(parts)}</main></body></html>\n")


def write_report(path: str | Path, title: str, subtitle: str, sections: Sequence[Section]) -> Path:
    return atomic_write_text(path, render_report(title, subtitle, sections))
