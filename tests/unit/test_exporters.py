import io

from scrapy.exporters import JsonLinesItemExporter

from crawlers.exporters import DataclassJsonLinesItemExporter
from crawlers.items import BusinessItem, DealItem, EmailItem


def export(exporter_cls, items) -> bytes:
    out = io.BytesIO()
    exporter = exporter_cls(out, encoding="utf-8", ensure_ascii=False)
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    return out.getvalue()


def test_lines_are_identical_to_scrapys():
    items = [
        BusinessItem(ypid="1", name='Zoë\'s "Café"\x00', categories=["a", "b"], rating=4.5),
        DealItem(origin="PHX", destination="Paris", options=[{"airline": "X", "price": 1}]),
        EmailItem(email="ä@例え.jp", site="s", page="p", first_seen="2026-01-01T00:00:00Z"),
        {"plain": "dict item", "n": 1},
    ]
    ours = export(DataclassJsonLinesItemExporter, items)
    assert ours == export(JsonLinesItemExporter, items)
    assert ours.count(b"\n") == len(items)
