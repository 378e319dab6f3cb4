"""Reading the dealer portal, on pages saved from the sandbox's portal."""

import json

import pytest

from crawlers.extraction.vehicles import (
    csrf_meta,
    display_number,
    inventory_page,
    is_safe_ref,
    login_error,
    vehicle_page,
)


def test_refused_login_shows_its_message(saved_page):
    assert login_error(saved_page("vehicles/login_error.html")) == "Invalid username or password."
    assert login_error(saved_page("vehicles/login.html")) is None


def test_inventory_page_token(saved_page):
    token = csrf_meta(saved_page("vehicles/inventory.html"))
    assert token and len(token) == 32
    assert csrf_meta(saved_page("vehicles/license.html")) is None


def test_api_page_typed(saved_page):
    page = inventory_page(json.loads(saved_page("vehicles/api_inventory.json")))
    assert (page.total, page.page, page.pages) == (13, 1, 3)
    assert len(page.vehicles) == 5
    first = page.vehicles[0]
    assert first == {
        "ref": "r4-b",
        "vin": "M7AKWZ0LUVDYX9JES",
        "year": 2018,
        "make": "Mercedes-Benz",
        "model": "Sprinter",
        "trim": "",
        "mileage": 90198,
        "price": 83400.0,
    }


def test_api_page_tolerates_odd_values():
    page = inventory_page(
        {
            "total": "3",
            "vehicles": [
                {"ref": "AB-12", "year": "2019", "mileage": None, "price": "n/a", "make": " Kia  "},
                {"ref": ""},
                "not a vehicle",
                {"ref": 12345, "year": True},
            ],
        }
    )
    assert page.total == 3 and page.pages == 0
    assert [v["ref"] for v in page.vehicles] == ["AB-12", "12345"]
    assert page.vehicles[0]["year"] == 2019
    assert page.vehicles[0]["mileage"] is None and page.vehicles[0]["price"] is None
    assert page.vehicles[0]["make"] == "Kia"
    assert page.vehicles[1]["year"] is None


def test_vehicle_page_with_non_ascii_make_and_empty_vin(saved_page):
    page = vehicle_page(saved_page("vehicles/vehicle.html"))
    assert page.title == "2011 Škoda Kodiaq SE"
    assert page.report_url.startswith("/reports/r8-c1.pdf?sig=")
    assert page.fields() == {
        "vin": "",
        "year": 2011,
        "make": "Škoda",
        "model": "Kodiaq",
        "trim": "SE",
        "mileage": 5256,
        "price": 40000.0,
    }


def test_vehicle_page_without_link():
    page = vehicle_page("<h1 class='title'>x</h1><dl class='specs'><dt>Year</dt><dd></dd></dl>")
    assert page.report_url is None
    assert page.fields()["year"] is None


@pytest.mark.parametrize(
    ("text", "number"),
    [("171,153", 171153), ("$3,500", 3500), ("53,939 mi", 53939), ("", None), ("n/a", None)],
)
def test_display_numbers(text, number):
    assert display_number(text) == number


@pytest.mark.parametrize("ref", ["VH-000123", "STK_12345A", "abcd", "x" * 32])
def test_safe_refs(ref):
    assert is_safe_ref(ref)


@pytest.mark.parametrize(
    "ref",
    [
        "../../etc/passwd",
        "..",
        "a/b/c",
        "x" * 33,
        "abc",
        "ref with space",
        "C:\\evil",
        "r\u00e9f1",
        "",
        None,
    ],
)
def test_hostile_refs(ref):
    assert not is_safe_ref(ref)
