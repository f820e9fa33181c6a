"""Format registry: one module per external format, chosen by content."""

from __future__ import annotations

from pathlib import Path

from evaltui.errors import InputError
from evaltui.importers.base import (
    Importer,
    ImportOptions,
    ParsedRun,
    Progress,
    check_text_head,
    sha256_file,
)
from evaltui.importers.inspect_ai import InspectImporter
from evaltui.importers.langsmith import LangSmithImporter
from evaltui.importers.lm_eval import LmEvalImporter
from evaltui.importers.native import NativeCsvImporter, NativeJsonlImporter
from evaltui.importers.openai_evals import OpenAIEvalsImporter
from evaltui.importers.otel_genai import OtelGenAIImporter
from evaltui.importers.otlp_logs import OtlpLogsImporter
from evaltui.importers.promptfoo import PromptfooImporter

# Order matters: the first importer whose sniff() accepts the file wins, so
# the most specific formats come first.
REGISTRY: dict[str, Importer] = {}


def register(importer: Importer) -> None:
    REGISTRY[importer.name] = importer


register(InspectImporter())
register(PromptfooImporter())
register(OpenAIEvalsImporter())
register(LmEvalImporter())
register(OtelGenAIImporter())
register(LangSmithImporter())
register(OtlpLogsImporter())  # refused alone; joined to the traces given with it (otlp_logs.pair)
register(NativeJsonlImporter())
register(NativeCsvImporter())


def supported() -> str:
    return ", ".join(REGISTRY)


def get_importer(name: str) -> Importer:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(
            name, f"unknown format '{name}'; supported formats: {supported()}"
        ) from None


def _sniff(importer: Importer, path: Path, head: bytes) -> bool:
    """Sniffing is a guess: a sniffer that trips on odd bytes (deep JSON, say) says no."""
    try:
        return bool(importer.sniff(path, head))
    except (ValueError, RecursionError, OSError, UnicodeError):
        return False


def detect(path: Path) -> Importer:
    """The importer for `path`, chosen from its content."""
    if not path.exists():
        raise InputError(str(path), "no such file")
    if path.is_dir():
        for importer in REGISTRY.values():
            if _sniff(importer, path, b""):
                return importer
        raise InputError(
            str(path),
            f"no supported results found in this folder; supported formats: {supported()}",
        )
    with path.open("rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise InputError(str(path), "the file is empty")
    for importer in REGISTRY.values():
        if _sniff(importer, path, head):
            return importer
    check_text_head(path, head)  # UTF-16 or binary: say so, not "unknown format"
    raise InputError(
        str(path),
        f"unrecognised file format; supported formats: {supported()} (use --format to force one)",
    )


__all__ = [
    "REGISTRY",
    "ImportOptions",
    "Importer",
    "ParsedRun",
    "Progress",
    "detect",
    "get_importer",
    "sha256_file",
    "supported",
]
