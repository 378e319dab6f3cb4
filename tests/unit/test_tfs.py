"""The `tfs` codec against encodings written out by hand from the schema in SITES.md."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawlers.deals import tfs
from sandbox.sites import deals as site


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def airport(code: bytes) -> bytes:
    # Airport{ string airport = 2 }: key 0x12 (2 << 3 | 2), length, bytes
    return b"\x12" + bytes([len(code)]) + code


def leg(date: bytes, origin: bytes, dest: bytes) -> bytes:
    # FlightData{ date = 2 (0x12); from_flight = 13 (0x6a); to_flight = 14 (0x72) }
    body = b""
    if date:
        body += b"\x12" + bytes([len(date)]) + date
    body += b"\x6a" + bytes([len(airport(origin))]) + airport(origin)
    body += b"\x72" + bytes([len(airport(dest))]) + airport(dest)
    return b"\x1a" + bytes([len(body)]) + body  # Info.data = 3 (0x1a)


# passengers = 8, packed (0x42, one byte: ADULT); seat = 9 (0x48) ECONOMY;
# trip = 19: key 19 << 3 = 152 as a varint is 0x98 0x01, ROUND_TRIP.
TAIL = b"\x42\x01\x01" + b"\x48\x01" + b"\x98\x01\x01"

EXPLORE_PHX_EUROPE = leg(b"", b"PHX", b"/m/02j9z") + leg(b"", b"/m/02j9z", b"PHX") + TAIL
FLIGHTS_PHX_CDG = leg(b"2027-01-04", b"PHX", b"CDG") + leg(b"2027-01-06", b"CDG", b"PHX") + TAIL


def test_explore_query_encodes_exactly_as_built_by_hand():
    assert tfs.encode(tfs.explore_query("PHX", "/m/02j9z")) == b64(EXPLORE_PHX_EUROPE)
    assert EXPLORE_PHX_EUROPE.hex().startswith("1a136a0512035048")


def test_flights_query_encodes_exactly_as_built_by_hand():
    query = tfs.flights_query("PHX", "CDG", "2027-01-04", "2027-01-06")
    assert tfs.encode(query) == b64(FLIGHTS_PHX_CDG)


def test_hand_built_encodings_decode():
    query = tfs.decode(b64(FLIGHTS_PHX_CDG))
    assert query == tfs.flights_query("PHX", "CDG", "2027-01-04", "2027-01-06")
    assert query.trip == tfs.ROUND_TRIP
    assert query.seat == tfs.ECONOMY
    assert query.passengers == (tfs.ADULT,)
    explore = tfs.decode(b64(EXPLORE_PHX_EUROPE))
    assert [(leg.origin, leg.destination, leg.date) for leg in explore.legs] == [
        ("PHX", "/m/02j9z", ""),
        ("/m/02j9z", "PHX", ""),
    ]


def test_padding_is_accepted_and_max_stops_zero_is_kept():
    padded = b64(FLIGHTS_PHX_CDG) + "=" * (-len(b64(FLIGHTS_PHX_CDG)) % 4)
    assert tfs.decode(padded) == tfs.decode(b64(FLIGHTS_PHX_CDG))
    query = tfs.Query(legs=(tfs.Leg("PHX", "CDG", "2027-01-04", max_stops=0),), trip=tfs.ONE_WAY)
    raw = base64.urlsafe_b64decode(tfs.encode(query) + "==")
    assert b"\x28\x00" in raw  # max_stops = 5, varint 0: present, not dropped as default
    assert tfs.decode(tfs.encode(query)) == query


@pytest.mark.parametrize(
    "bad",
    [
        "not base64!",
        "%%%",
        b64(b"\x1a\x20\x12"),  # a field longer than the message
        b64(b"\x1a\x03\x07\x00\x00"),  # wire type 7 does not exist
    ],
)
def test_undecodable_values_are_rejected(bad):
    with pytest.raises(tfs.TfsError):
        tfs.decode(bad)


IATA = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
DATE = st.dates().map(lambda d: d.isoformat())


@given(IATA, IATA, DATE, DATE)
def test_round_trip_and_the_sandbox_agrees(origin, dest, out, back):
    query = tfs.flights_query(origin, dest, out, back)
    value = tfs.encode(query)
    assert tfs.decode(value) == query
    # The sandbox's hand-written wire codec is independent of the protobuf runtime.
    assert site.build_tfs([(out, origin, dest), (back, dest, origin)]) == value
    parsed = site.parse_tfs(value)
    assert parsed["trip"] == 1
    assert parsed["legs"] == [
        {"date": out, "from": origin, "to": dest},
        {"date": back, "from": dest, "to": origin},
    ]


@given(st.text(min_size=1, max_size=40))
def test_region_ids_round_trip(region):
    assert tfs.decode(tfs.encode(tfs.explore_query("PHX", region))) == tfs.explore_query(
        "PHX", region
    )
