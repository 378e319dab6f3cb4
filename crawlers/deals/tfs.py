"""The `tfs` query parameter of Google Flights URLs: build and parse it (SITES.md section 2).

`tfs` is the URL-safe base64 (padding stripped) of a protobuf message. The schema is the
one public scrapers use (`fast-flights`' flights.proto):

    message Airport    { string airport = 2; }
    message FlightData { string date = 2; optional int32 max_stops = 5;
                         Airport from_flight = 13; Airport to_flight = 14; }
    message Info       { repeated FlightData data = 3; repeated Passenger passengers = 8;
                         Seat seat = 9; Trip trip = 19; }
    enum Seat { ECONOMY = 1; ... }  enum Trip { ROUND_TRIP = 1; ONE_WAY = 2; ... }
    enum Passenger { ADULT = 1; ... }

The message classes are built from a FileDescriptorProto at import time, so no generated
module (and no protoc) is needed, and the real protobuf runtime does the wire format.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

ECONOMY, PREMIUM_ECONOMY, BUSINESS, FIRST = 1, 2, 3, 4
ROUND_TRIP, ONE_WAY, MULTI_CITY = 1, 2, 3
ADULT, CHILD, INFANT_IN_SEAT, INFANT_ON_LAP = 1, 2, 3, 4

_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_F = descriptor_pb2.FieldDescriptorProto


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    fd = descriptor_pb2.FileDescriptorProto(
        name="crawlers/flights.proto", package="crawlers.flights", syntax="proto3"
    )

    def enum(name: str, values: list[str]) -> None:
        e = fd.enum_type.add(name=name)
        for number, value in enumerate(values):
            e.value.add(name=value, number=number)

    enum("Seat", ["UNKNOWN_SEAT", "ECONOMY", "PREMIUM_ECONOMY", "BUSINESS", "FIRST"])
    enum("Trip", ["UNKNOWN_TRIP", "ROUND_TRIP", "ONE_WAY", "MULTI_CITY"])
    enum(
        "Passenger",
        ["UNKNOWN_PASSENGER", "ADULT", "CHILD", "INFANT_IN_SEAT", "INFANT_ON_LAP"],
    )

    airport = fd.message_type.add(name="Airport")
    airport.field.add(name="airport", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)

    data = fd.message_type.add(name="FlightData")
    data.field.add(name="date", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    # proto3 `optional`: a synthetic oneof makes presence explicit (0 stops != not set).
    data.oneof_decl.add(name="_max_stops")
    data.field.add(
        name="max_stops",
        number=5,
        type=_F.TYPE_INT32,
        label=_F.LABEL_OPTIONAL,
        oneof_index=0,
        proto3_optional=True,
    )
    for name, number in (("from_flight", 13), ("to_flight", 14)):
        data.field.add(
            name=name,
            number=number,
            type=_F.TYPE_MESSAGE,
            label=_F.LABEL_OPTIONAL,
            type_name=".crawlers.flights.Airport",
        )

    info = fd.message_type.add(name="Info")
    info.field.add(
        name="data",
        number=3,
        type=_F.TYPE_MESSAGE,
        label=_F.LABEL_REPEATED,
        type_name=".crawlers.flights.FlightData",
    )
    info.field.add(
        name="passengers",
        number=8,
        type=_F.TYPE_ENUM,
        label=_F.LABEL_REPEATED,
        type_name=".crawlers.flights.Passenger",
    )
    info.field.add(
        name="seat",
        number=9,
        type=_F.TYPE_ENUM,
        label=_F.LABEL_OPTIONAL,
        type_name=".crawlers.flights.Seat",
    )
    info.field.add(
        name="trip",
        number=19,
        type=_F.TYPE_ENUM,
        label=_F.LABEL_OPTIONAL,
        type_name=".crawlers.flights.Trip",
    )
    return fd


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file_descriptor())
# Any: a class made at run time, whose fields (data, trip, ...) no stub can name.
Info: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("crawlers.flights.Info"))


class TfsError(ValueError):
    """A `tfs` value that is not base64 of an Info message."""


@dataclass(frozen=True)
class Leg:
    origin: str
    destination: str
    date: str = ""
    max_stops: int | None = None


@dataclass(frozen=True)
class Query:
    legs: tuple[Leg, ...]
    trip: int = ROUND_TRIP
    seat: int = ECONOMY
    passengers: tuple[int, ...] = (ADULT,)


def encode(query: Query) -> str:
    info = Info(trip=query.trip, seat=query.seat, passengers=list(query.passengers))
    for leg in query.legs:
        data = info.data.add(date=leg.date)
        data.from_flight.airport = leg.origin
        data.to_flight.airport = leg.destination
        if leg.max_stops is not None:
            data.max_stops = leg.max_stops
    raw = info.SerializeToString(deterministic=True)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(tfs: str) -> Query:
    text = tfs.strip()
    # The stdlib decoder silently drops characters outside the alphabet; a value with
    # any of them is not a tfs we built or could trust.
    if not _URLSAFE_B64.fullmatch(text):
        raise TfsError("tfs is not URL-safe base64")
    text = text.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TfsError(f"tfs is not URL-safe base64: {exc}") from None
    info = Info()
    try:
        info.ParseFromString(raw)
    except DecodeError as exc:
        raise TfsError(f"tfs is not a flights query: {exc}") from None
    legs = tuple(
        Leg(
            origin=d.from_flight.airport,
            destination=d.to_flight.airport,
            date=d.date,
            max_stops=d.max_stops if d.HasField("max_stops") else None,
        )
        for d in info.data
    )
    return Query(legs=legs, trip=info.trip, seat=info.seat, passengers=tuple(info.passengers))


def explore_query(origin: str, region_id: str) -> Query:
    """An explore search: round trip, economy, one adult, flexible (empty) dates."""
    return Query(legs=(Leg(origin, region_id), Leg(region_id, origin)))


def flights_query(origin: str, destination: str, outbound: str, inbound: str) -> Query:
    return Query(legs=(Leg(origin, destination, outbound), Leg(destination, origin, inbound)))
