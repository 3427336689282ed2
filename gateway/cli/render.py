"""``gateway render FILE.xml -o OUT.pdf|OUT.html [--lang fr|nl|en]``: a human-readable invoice."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from gateway.bootstrap import build_validation_engine
from gateway.cli.validate import choose_rule_set
from gateway.config import Settings
from gateway.render import (
    LANGUAGES,
    OutputFormat,
    RenderOptions,
    ReportSummary,
    html_to_pdf,
    read_view,
    render_html,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``render`` subcommand."""
    p = subparsers.add_parser(
        "render",
        help="render a UBL invoice/credit note as PDF or HTML",
        description="Render any Peppol BIS Billing 3.0 invoice or credit note. The document is validated "
        "first (unless --no-validate) and its findings are shown in a banner. Exit 0 when written, 2 when "
        "the input is not a readable UBL Invoice/CreditNote.",
    )
    p.add_argument("input", type=Path, metavar="FILE.xml")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT",
        help="OUT.pdf or OUT.html (default: HTML on standard output)",
    )
    p.add_argument("--format", choices=[f.value for f in OutputFormat], help="default: from the -o suffix")
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="labels and number formats (default en)")
    p.add_argument("--no-validate", action="store_true", help="skip validation (no findings banner)")
    p.add_argument(
        "--rules", metavar="ID", help="rule set id (default: settings, else the one in force today)"
    )
    p.set_defaults(func=run_render)


def _output_format(args: argparse.Namespace) -> OutputFormat:
    if args.format:
        return OutputFormat(args.format)
    suffix = args.output.suffix.lower() if args.output else ""
    return OutputFormat.PDF if suffix == ".pdf" else OutputFormat.HTML


def run_render(args: argparse.Namespace, settings: Settings) -> int:
    """Read, validate (optionally), render and write; errors of the input go to standard error."""
    try:
        data = args.input.read_bytes()
    except OSError as exc:
        print(f"render: cannot read {args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    view = read_view(data)  # XMLInputError / MappingError: main() prints them, exit 2
    report = None
    if not args.no_validate:
        engine = build_validation_engine(settings)
        rule_set = choose_rule_set(args.rules, settings, date.today(), engine.store.manifest)
        report = ReportSummary.from_json(engine.validate(data, rule_set=rule_set).to_dict())
    html = render_html(view, RenderOptions(language=args.lang, report=report))
    output = _output_format(args)
    content = html_to_pdf(html) if output is OutputFormat.PDF else html.encode("utf-8")
    if args.output is None:
        sys.stdout.buffer.write(content)
        return 0
    args.output.write_bytes(content)
    findings = f", {len(report.findings)} validation finding(s)" if report else ""
    print(f"render: wrote {args.output} ({output.value}{findings})", file=sys.stderr)
    return 0
