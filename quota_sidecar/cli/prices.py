"""`quota-sidecar prices show PROVIDER/MODEL` and `prices check FILE`: the price in force and
where it comes from, and a quota file's `prices:` and `unpriced:` checked, without a sidecar.

    $ quota-sidecar prices show openai/gpt-4o
    openai/gpt-4o at 2026-12-01 21:00:00Z
      input        $2.5 per million tokens
      output       $10 per million tokens
      cache read   $1.25 per million tokens
      cache write  as input
      source       genai-prices 0.2.3

The price is looked up exactly as the sidecar would (quota_sidecar.pricing.PriceBook: an
override of `--config FILE` in force at `--at`, else the bundled genai-prices snapshot), so what
this prints is what a record at that instant is charged. Rates are printed as the exact
decimals they are, never rounded.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quota_sidecar.config import QuotaDocument, load_quota_document
from quota_sidecar.domain.errors import ConfigError, InvalidInput
from quota_sidecar.domain.timestamps import parse_instant
from quota_sidecar.pricing import DEFAULT_UNPRICED_POLICY, PriceBook, PriceSourceKind, Quote, Rate

__all__ = ["add_prices_command"]

_RATES = (
    ("input", "input"),
    ("output", "output"),
    ("cache read", "cache_read"),
    ("cache write", "cache_write"),
)


def add_prices_command(subparsers: Any) -> None:
    p = subparsers.add_parser("prices", help="the price of a model, and a quota file's prices")
    commands = p.add_subparsers(dest="prices_command", required=True, metavar="COMMAND")
    show = commands.add_parser("show", help="the price in force for PROVIDER/MODEL and its source")
    show.add_argument("model", help="PROVIDER/MODEL, for example openai/gpt-4o")
    show.add_argument(
        "--at", help="the instant, ISO-8601 with a time zone (default: now), e.g. 2026-07-01T00:00Z"
    )
    show.add_argument("--config", type=Path, help="a quota file whose prices: override")
    show.set_defaults(func=_show)
    check = commands.add_parser("check", help="validate a quota file's prices: and unpriced:")
    check.add_argument("file", type=Path, help="the YAML quota file")
    check.set_defaults(func=_check)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _load(path: Path) -> QuotaDocument:
    """The file, with its overrides also indexed the way the sidecar indexes them (two prices
    for one model at one instant are refused there, so here too)."""
    document = load_quota_document(path)
    try:
        PriceBook(document.prices)
    except InvalidInput as exc:
        raise ConfigError("prices", exc.message, source=str(path)) from None
    return document


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    # A price change happens at one instant; a local time without a zone names none.
    return parse_instant(text, "--at").astimezone(UTC)


def _rate_text(rate: Rate | None, input_rate: Rate | None, name: str) -> str:
    if rate is None:
        # genai-prices' rule, which the sidecar follows: no cache rate, billed as input.
        return "as input" if name.startswith("cache") and input_rate is not None else "-"
    text = f"${rate.base} per million tokens"
    for tier in rate.tiers:
        text += f"; ${tier.per_mtok} above {tier.start:,} input tokens"
    return text


def _source_text(quote: Quote, config: Path | None) -> str:
    if quote.source.kind is not PriceSourceKind.OVERRIDE:
        return str(quote.source)
    since = (
        f", in force from {quote.effective_from.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
        if quote.effective_from is not None
        else ""
    )
    return f"override (from {config}{since})"


def _show(args: argparse.Namespace) -> int:
    provider, slash, model = args.model.partition("/")
    if not slash or not provider.strip() or not model.strip():
        return _fail(f"model: expected PROVIDER/MODEL, got {args.model!r}")
    try:
        at = _instant(args.at)
        document = _load(args.config) if args.config is not None else QuotaDocument([])
    except InvalidInput as exc:  # ConfigError included: it names the file and line
        return _fail(str(exc))
    quote = PriceBook(document.prices).price(provider, model, at)
    if quote is None:
        where = f" or in {args.config}" if args.config is not None else ""
        return _fail(
            f"model: no price for {provider}/{model} at {at:%Y-%m-%d %H:%M:%S}Z in the bundled "
            f"genai-prices{where}; records of it need a cost or a prices: override"
        )
    price = quote.price
    print(f"{provider}/{model} at {at:%Y-%m-%d %H:%M:%S}Z")
    for label, name in _RATES:
        print(f"  {label:<12} {_rate_text(getattr(price, name), price.input, name)}")
    if price.per_request is not None:
        print(f"  {'per request':<12} ${price.per_request}")
    print(f"  {'source':<12} {_source_text(quote, args.config)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        document = _load(args.file)
    except InvalidInput as exc:  # ConfigError: `file:LINE: field: problem`
        return _fail(str(exc))
    policy = document.unpriced or DEFAULT_UNPRICED_POLICY
    default = "" if document.unpriced else " (the default)"
    print(f"ok: {args.file} overrides {len(document.prices)} price(s); unpriced: {policy}{default}")
    for override in document.prices:
        since = (
            f" from {override.effective_from.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
            if override.effective_from is not None
            else ""
        )
        print(f"  {override.provider}/{override.model}{since}: {override.price}")
    return 0
