from sandbox.knobs import Knobs


def test_update_converts_types_and_keeps_site_options():
    knobs = Knobs()
    knobs.update(fault_429="0.25", seed="9", inventory="120")
    assert knobs.fault_429 == 0.25
    assert knobs.seed == 9
    assert knobs.option("inventory", 10) == 120
    assert knobs.option("missing", 5) == 5


def test_bool_options_from_strings():
    knobs = Knobs(options={"on": "false", "off": "1"})
    assert knobs.option("on", True) is False
    assert knobs.option("off", False) is True
