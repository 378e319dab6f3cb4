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


def test_each_line_is_in_the_file_when_export_item_returns(tmp_path):
    # What another process (or a reader after a SIGKILL) sees: the file on disk, not the
    # exporter's buffer, and before finish_exporting.
    path = tmp_path / "items.jsonl"
    items = [BusinessItem(ypid="1", name="A"), {"plain": "dict item"}]
    with open(path, "ab") as out:
        exporter = DataclassJsonLinesItemExporter(out, encoding="utf-8")
        exporter.start_exporting()
        for count, item in enumerate(items, start=1):
            exporter.export_item(item)
            assert path.read_bytes().count(b"\n") == count
