"""The sources by name (`--source`): one place that knows them all."""

from __future__ import annotations

from meterhouse.core.sources import SOURCE_NAMES, EventsSource, Source
from meterhouse.core.sources.mapped import MappedSource, parse_mapping
from meterhouse.errors import MeterhouseError


def make_source(name: str, mapping: tuple[str, str] | None = None,
                tenant_from: str | None = None) -> Source:  # fmt: skip
    """The source `name`; `mapping` is (text, where) of a mapping file (the `mapped` source
    needs one, the others take none); `tenant_from` the source field the tenant comes from
    (litellm and otel; None: the source's default)."""
    name = name.strip().lower()
    if name not in SOURCE_NAMES:
        raise MeterhouseError(
            f"unknown source '{name}': use one of {', '.join(SOURCE_NAMES)} (docs/sources.md)."
        )
    if (name == "mapped") != (mapping is not None):
        raise MeterhouseError(
            "--source mapped reads through a mapping file: give --mapping FILE."
            if name == "mapped"
            else f"--mapping is for --source mapped, not {name}."
        )
    if tenant_from is not None and name not in ("litellm", "otel"):
        raise MeterhouseError(
            f"--tenant-from is for --source litellm or otel; a {name} export names its tenant "
            + ("in the mapping's columns.tenant_id." if name == "mapped" else "in tenant_id.")
        )
    if name == "mapped":
        assert mapping is not None
        return MappedSource(parse_mapping(*mapping))
    if name == "litellm":
        from meterhouse.core.sources.litellm import LiteLLMSource

        return LiteLLMSource(tenant_from)
    if name == "otel":
        from meterhouse.core.sources.otel import OtelSource

        return OtelSource(tenant_from)
    return EventsSource()
