"""PDF checks and saving: nothing but the vehicle's own complete report lands under its name."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.utils.test import get_crawler

from crawlers.items import VehicleItem
from crawlers.pipelines.pdfs import HOST, PART_MAX_AGE, PdfPipeline, save_atomic, sweep_parts
from crawlers.vehicles.pdfs import PdfDownload, UnsafeRef, pdf_path, pdf_problem, saved_pdf
from sandbox.sites.vehicles import Vehicle, make_pdf

PAGES = Path(__file__).parent.parent / "pages" / "vehicles"
REPORT = (PAGES / "report.pdf").read_bytes()  # the report of r8-c1, which has no VIN


def report(ref: str, vin: str = "") -> bytes:
    return make_pdf(Vehicle(ref, vin, 2020, "Kia", "Ceed", "", 1000, 9000), pad_kb=1)


def test_the_vehicles_own_report_passes():
    assert pdf_problem(REPORT, "r8-c1") is None
    assert pdf_problem(REPORT, "r8-c1", expected_length=len(REPORT)) is None
    assert (
        pdf_problem(report("VH-1234", "1HGCM82633A004352"), "VH-1234", "1HGCM82633A004352") is None
    )


def test_another_vehicles_report_is_refused_even_when_its_ref_contains_ours():
    assert pdf_problem(REPORT, "VH-9999") == "pdf_wrong_vehicle"
    assert pdf_problem(REPORT, "r8-c") == "pdf_wrong_vehicle"
    assert pdf_problem(report("AB12X"), "AB12") == "pdf_wrong_vehicle"
    assert pdf_problem(report("VH-1234", "VIN00000000000001"), "VH-1234", "VIN00000000000002") == (
        "pdf_wrong_vehicle"
    )


def test_short_bodies_are_incomplete():
    half = REPORT[: len(REPORT) // 2]
    assert pdf_problem(half, "r8-c1", expected_length=len(REPORT)) == "pdf_incomplete"
    # Without a Content-Length the missing trailer still tells.
    assert pdf_problem(half, "r8-c1") == "pdf_incomplete"


def test_html_served_as_pdf_and_garbage():
    assert pdf_problem(b"<!doctype html><h1>Report failed</h1>", "r8-c1") == "not_a_pdf"
    assert pdf_problem(b"", "r8-c1") == "not_a_pdf"
    assert pdf_problem(b"%PDF-1.4\nnonsense r8-c1\n%%EOF\n", "r8-c1") == "pdf_unreadable"


@pytest.mark.parametrize("ref", ["../../etc/passwd", "..", "a/b", "x" * 40, "/abs", "ok\x00"])
def test_hostile_refs_have_no_path(tmp_path, ref):
    with pytest.raises(UnsafeRef):
        pdf_path(tmp_path, ref)


@settings(max_examples=300, deadline=None)
@given(ref=st.text(max_size=40))
def test_no_ref_leaves_the_folder(tmp_path_factory, ref):
    store = tmp_path_factory.mktemp("store")
    try:
        path = pdf_path(store, ref)
    except UnsafeRef:
        return
    assert path.parent == store and path.name == f"{ref}.pdf"


def test_save_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "r8-c1.pdf"
    path.write_bytes(b"old")
    saved = save_atomic(path, REPORT)
    assert path.read_bytes() == REPORT
    assert saved.size == len(REPORT) and len(saved.sha256) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["r8-c1.pdf"]


def test_a_writers_leftovers_are_swept_once_it_is_dead_or_they_are_old(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    names = {
        "killed": f".a1b2.pdf.{HOST}-{dead_pid}.x1y2z3.part",
        "writing": f".c3d4.pdf.{HOST}-{os.getpid()}.x1y2z3.part",
        "other_node": ".e5f6.pdf.otherhost-1.x1y2z3.part",
        "other_node_old": ".g7h8.pdf.otherhost-1.x1y2z3.part",
        "pdf": "a1b2.pdf",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"%PDF-")
    old = time.time() - PART_MAX_AGE - 60
    os.utime(tmp_path / names["other_node_old"], (old, old))
    assert sweep_parts(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names["writing"], names["other_node"], names["pdf"]]
    )


def test_saved_pdf_is_reused_only_when_still_valid(tmp_path):
    assert saved_pdf(tmp_path, "r8-c1") is None
    (tmp_path / "r8-c1.pdf").write_bytes(REPORT[:-200])
    assert saved_pdf(tmp_path, "r8-c1") is None
    (tmp_path / "r8-c1.pdf").write_bytes(REPORT)
    assert saved_pdf(tmp_path, "r8-c1").size == len(REPORT)
    assert saved_pdf(tmp_path, "../r8-c1") is None


def process(pipeline: PdfPipeline, item):
    return asyncio.run(pipeline.process_item(item))


def make_pipeline(store: Path) -> tuple[PdfPipeline, object]:
    crawler = get_crawler(settings_dict={"FILES_STORE": str(store)})
    crawler.stats.open_spider()
    pipeline = PdfPipeline.from_crawler(crawler)
    pipeline.open_spider()
    return pipeline, crawler.stats


def test_pipeline_saves_a_valid_report(tmp_path):
    pipeline, stats = make_pipeline(tmp_path / "pdfs")
    item = process(pipeline, PdfDownload(VehicleItem(ref="r8-c1"), REPORT, len(REPORT)))
    assert isinstance(item, VehicleItem)
    assert (item.status, item.reason, item.pdf_size) == ("downloaded", "", len(REPORT))
    assert Path(item.pdf_path) == tmp_path / "pdfs" / "r8-c1.pdf"
    assert Path(item.pdf_path).read_bytes() == REPORT
    assert stats.get_value("progress/done") == 1


def test_pipeline_refuses_what_it_cannot_trust(tmp_path):
    pipeline, stats = make_pipeline(tmp_path / "pdfs")
    wrong = process(pipeline, PdfDownload(VehicleItem(ref="VH-0001"), REPORT))
    hostile = process(pipeline, PdfDownload(VehicleItem(ref="../r8-c1"), REPORT))
    short = process(pipeline, PdfDownload(VehicleItem(ref="r8-c1"), REPORT[:-10], len(REPORT)))
    assert [(i.status, i.reason) for i in (wrong, hostile, short)] == [
        ("failed", "pdf_wrong_vehicle"),
        ("failed", "invalid_ref"),
        ("failed", "pdf_incomplete"),
    ]
    assert list((tmp_path / "pdfs").iterdir()) == []
    assert not (tmp_path / "r8-c1.pdf").exists()
    assert stats.get_value("progress/failed") == 3


def test_pipeline_passes_other_items_through(tmp_path):
    pipeline, _ = make_pipeline(tmp_path / "pdfs")
    item = VehicleItem(ref="VH-0001", status="skipped")
    assert process(pipeline, item) is item
