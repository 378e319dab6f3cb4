"""The spider's arguments: phases, airports, regions, top and within."""

import pytest

from crawlers.deals.places import PHASES, choose_regions
from crawlers.errors import ConfigError
from crawlers.spiders.deals import DealsSpider

REGIONS_FILE = None  # the regions.json shipped in the package


def test_phases_are_the_old_tools():
    assert DealsSpider().origins == ["PHX", "DFW"]
    assert DealsSpider(phase="2").origins == ["PHX", "DFW", "LAX", "ORD", "JFK"]
    assert len(DealsSpider(phase=3).origins) == 10
    assert PHASES[2][:2] == PHASES[1] and PHASES[3][:5] == PHASES[2]


def test_origins_are_checked_against_the_airport_database():
    assert DealsSpider(origins="phx, bos,PHX").origins == ["PHX", "BOS"]
    with pytest.raises(ConfigError, match=r"unknown IATA airport code.*: XQZ, QQQ$"):
        DealsSpider(origins="PHX,XQZ,QQQ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origins": "PHX", "phase": "2"}, "origins or phase, not both"),
        ({"phase": "4"}, "phase must be 1, 2 or 3"),
        ({"top": "0"}, "top must be at least 1"),
        ({"top": "five"}, "top must be a whole number"),
        ({"within": "soon"}, "within: not a duration"),
        ({"origins": ", ,"}, "origins is empty"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message) as err:
        DealsSpider(**kwargs)
    assert "\n" not in str(err.value)


def test_regions_by_name_id_and_all():
    regions = choose_regions("Europe,/m/02j9z,north_america,/m/0abc12", REGIONS_FILE)
    assert regions == [
        ("europe", "/m/02j9z"),
        ("north-america", "/m/059g4"),
        ("/m/0abc12", "/m/0abc12"),
    ]
    every = choose_regions("all", REGIONS_FILE)
    assert ("anywhere", "/m/02j71") in every and ("europe", "/m/02j9z") in every
    assert len(every) == len({rid for _, rid in every}) >= 9


def test_a_regions_file_of_ones_own_replaces_the_shipped_one(tmp_path):
    path = tmp_path / "regions.json"
    path.write_text('{"_comment": "mine", "mars": "/m/0abc12"}')
    assert choose_regions("all", str(path)) == [("mars", "/m/0abc12")]
    with pytest.raises(ConfigError, match=r"unknown region 'europe' \(known: mars,"):
        choose_regions("europe", path)


def test_unknown_region_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown region 'atlantis' .*europe"):
        choose_regions("europe,atlantis", REGIONS_FILE)
