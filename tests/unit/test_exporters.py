import csv
import io
import json

from scrapy.exporters import JsonLinesItemExporter

from crawlers.exporters import DataclassJsonLinesItemExporter, JsonFieldsCsvItemExporter
from crawlers.items import BusinessItem, DealItem, EmailItem, VehicleItem


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


def test_without_an_encoding_lines_are_scrapys_utf8_ascii_lines():
    # FEED_EXPORT_ENCODING unset (Scrapy's default, None): Scrapy writes ASCII JSON in utf-8.
    items = [BusinessItem(ypid="1", name="Zoë"), BusinessItem(ypid="2", name="例え")]
    lines = []
    for exporter_cls in (DataclassJsonLinesItemExporter, JsonLinesItemExporter):
        out = io.BytesIO()
        exporter = exporter_cls(out, encoding=None)
        exporter.start_exporting()
        exporter.export_item(items[0])
        if exporter_cls is DataclassJsonLinesItemExporter:
            exporter.export_items(items[1:])
        else:
            exporter.export_item(items[1])
        exporter.finish_exporting()
        lines.append(out.getvalue())
    assert lines[0] == lines[1]
    assert b'"name": "Zo\\u00eb"' in lines[0]


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


def read_csv(items) -> list[dict[str, str]]:
    out = io.BytesIO()
    exporter = JsonFieldsCsvItemExporter(out, encoding="utf-8")
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    text = out.getvalue().decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_nested_fields_are_json_a_csv_reader_and_json_loads_read_back():
    options = [
        {"airline": "Lufthansa", "price": 612.5, "stops": ["FRA"], "note": 'say "hi", ok'},
        {"airline": "Condor", "price": None},
    ]
    deal = DealItem(origin="PHX", destination="Paris, FR", regions=["Europe", "A, B"])
    deal.options = options
    (row,) = read_csv([deal])
    assert json.loads(row["options"]) == options
    assert json.loads(row["regions"]) == ["Europe", "A, B"]  # a comma in a value stays one
    assert row["destination"] == "Paris, FR" and row["price"] == ""


def test_csv_lists_of_strings_and_dicts_round_trip_for_each_spiders_items():
    business = BusinessItem(ypid="7", name="Zoë's", categories=["Pizza", 'Bars, "Pubs"', "ü"])
    rows = read_csv([business, BusinessItem(ypid="8", name="Empty")])
    assert json.loads(rows[0]["categories"]) == ["Pizza", 'Bars, "Pubs"', "ü"]
    assert json.loads(rows[1]["categories"]) == []
    assert rows[0]["name"] == "Zoë's"
    (vehicle,) = read_csv([VehicleItem(ref="R1", year=2019, price=9.5)])
    assert (vehicle["ref"], vehicle["year"], vehicle["price"]) == ("R1", "2019", "9.5")
    (email,) = read_csv([EmailItem(email="a@b.c", site="s", page="p", first_seen="t")])
    assert email["email"] == "a@b.c"
    (plain,) = read_csv([{"tags": {"a": [1, 2]}, "n": 3}])
    assert json.loads(plain["tags"]) == {"a": [1, 2]} and plain["n"] == "3"


def test_csv_format_uses_the_json_cells():
    from scrapy.utils.project import get_project_settings

    exporters = get_project_settings().getdict("FEED_EXPORTERS")
    assert exporters["csv"] == "crawlers.exporters.JsonFieldsCsvItemExporter"
