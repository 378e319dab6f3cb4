"""A jsonlines exporter that writes dataclass items without Scrapy's per-field machinery.

Scrapy's exporter serializes every field through ItemAdapter and `serialize_field`; for our
dataclass items with no field serializers that is identity, done one call per field.
Encoding the dataclass' fields directly gives byte-identical lines at about a quarter of the
cost (38.5 us -> 9.6 us per item measured in bench/compare.py's listing crawl, about 15% of
the crawl's CPU per page).

Each line leaves the process as it is written (a flush, about 1.5 us an item): a cluster
node acks a request once its items have been exported, so a line still in a buffer when
the node is SIGKILLed would be lost for good, its request already gone from the queue.
"""

from __future__ import annotations

import dataclasses
from functools import cache

from scrapy.exporters import JsonLinesItemExporter


@cache
def plain_fields(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass whose fields have no serializer; () otherwise."""
    fields = dataclasses.fields(cls)
    if any("serializer" in f.metadata for f in fields):
        return ()
    return tuple(f.name for f in fields)


class DataclassJsonLinesItemExporter(JsonLinesItemExporter):
    def export_item(self, item) -> None:
        if self.fields_to_export is None and dataclasses.is_dataclass(item):
            names = plain_fields(type(item))
            if names:
                line = self.encoder.encode({n: getattr(item, n) for n in names}) + "\n"
                self.file.write(line.encode(self.encoding))
                self.file.flush()
                return
        super().export_item(item)
        self.file.flush()
