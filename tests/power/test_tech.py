"""Liberty reader and TechModel: known library values, cache, errors, fallback, energy relations.

Expected numbers were read from the Liberty files by hand (zcat + the cell's text), not from the
reader: ASAP7 file lines 188-1304 (BUFx2) and 3631-4810 (DFFHQx4); SKY130 values as in
shared/tech/README.md.
"""

import gzip
import json
import time

import pytest

from subtile.errors import ConfigError
from subtile.tech import liberty as tech
from subtile.power.tech_model import TechModel

SKY130 = "sky130_fd_sc_hd__"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private cache folder for this module, so runs never depend on ~/.cache."""
    folder = tmp_path_factory.mktemp("subtile-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUBTILE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def tech_dir():
    return tech.shared_dir() / "tech"


@pytest.fixture(scope="module")
def sky130_cold(cache, tech_dir):
    """The SKY130 library parsed once through an empty cache, with the time it took."""
    start = time.perf_counter()
    lib = tech.load_liberty(tech_dir / tech.DEFAULT_LIBERTY_NAME)
    return lib, time.perf_counter() - start


@pytest.fixture(scope="module")
def sky(sky130_cold):
    return TechModel.from_liberty()


# ---- the reader on the ASAP7 subset --------------------------------------------------------

def test_asap7_units_and_cells(cache, tech_dir):
    lib = tech.load_liberty(tech_dir / "asap7_small_ff.lib.gz")
    assert lib.name == "asap7_small_ff"
    assert lib.nom_voltage == pytest.approx(0.77)
    assert lib.units["time_s"] == pytest.approx(1e-12)          # time_unit : "1ps"
    assert lib.units["capacitance_pf"] == pytest.approx(1e-3)   # capacitive_load_unit (1,ff)
    assert lib.units["leakage_nw"] == pytest.approx(1e-3)       # leakage_power_unit : "1pW"
    assert lib.units["energy_pj"] == pytest.approx(1e-3)        # fF * V^2 = fJ
    assert sorted(lib.cells) == ["AND2x2_ASAP7_75t_R", "BUFx2_ASAP7_75t_R", "DFFHQx4_ASAP7_75t_R"]

    buf = lib.cells["BUFx2_ASAP7_75t_R"]
    assert buf.area_um2 == pytest.approx(0.0729)  # written "area : 0.0729" without ';'
    assert buf.pins["A"].direction == "input"
    assert buf.pins["A"].capacitance_pf == pytest.approx(0.577042e-3)
    assert buf.pins["Y"].direction == "output"
    # No cell_leakage_power: the unconditional VDD leakage_power value, 86.9786 pW.
    assert buf.leakage_nw == pytest.approx(0.0869786)
    assert buf.sequential is None

    dff = lib.cells["DFFHQx4_ASAP7_75t_R"]
    assert dff.area_um2 == pytest.approx(0.3645)
    assert dff.sequential == "ff"
    assert dff.pins["CLK"].clock is True
    assert dff.pins["D"].clock is False
    assert dff.pins["CLK"].capacitance_pf == pytest.approx(0.522765e-3)
    assert {a.related_pin for a in dff.pins["Q"].power} == {"CLK"}
    assert lib.cells["AND2x2_ASAP7_75t_R"].pins["B"].capacitance_pf == pytest.approx(0.565708e-3)


def test_asap7_internal_power_is_interpolated_at_the_reference_point(cache, tech_dir):
    lib = tech.load_liberty(tech_dir / "asap7_small_ff.lib.gz")
    arcs = lib.cells["BUFx2_ASAP7_75t_R"].pins["Y"].power
    vdd_arc = next(a for a in arcs if a.pg_pin == "VDD")
    # rise_power, related_pg_pin VDD, at 100 ps and 10 fF, by hand: rows 80/160 ps, columns
    # 5.76/11.52 fF: 0.238484 + 0.7361*(0.253784-0.238484) = 0.249746 and
    # 0.272512 + 0.7361*(0.271725-0.272512) = 0.271933; then 0.249746 + 0.25*0.022187.
    assert vdd_arc.rise_pj == pytest.approx(0.255293e-3, rel=1e-4)
    assert vdd_arc.transition_pj == pytest.approx((vdd_arc.rise_pj + vdd_arc.fall_pj) / 2)


SMALL_LIB = r"""
/* a comment with { braces } and "quotes" */
library (tiny) {
  time_unit : "1ns" ;
  voltage_unit : "1V" ;
  leakage_power_unit : "1uW" ;
  capacitive_load_unit (1, pf) ;
  default_operating_conditions : typ ;
  operating_conditions (typ) { voltage : 1.2 ; temperature : 25 ; }
  power_lut_template (swapped) {
    variable_1 : total_output_net_capacitance ;
    variable_2 : input_transition_time ;
    index_1 ("0.0, 0.02") ;
    index_2 ("0.0, 0.2") ;
  }
  cell (NAND) {
    area : 2.5 ;
    cell_leakage_power : 0.004 ;
    pin (A, B) { direction : input ; capacitance : 0.003 ; }
    pin (Y) {
      direction : output ;
      function : "!(A&B)" ;
      timing () { related_pin : "A" ; cell_rise (scalar) { values ("9.9") ; } }
      internal_power () {
        related_pin : "A" ;
        rise_power (swapped) {
          values ("1.0, 2.0", \
                  "3.0, 4.0") ;
        }
        fall_power (scalar) { values ("0.5") ; }
      }
    }
  }
}
"""


def test_small_plain_liberty(tmp_path, cache):
    path = tmp_path / "tiny.lib"
    path.write_text(SMALL_LIB)
    lib = tech.parse_liberty(path)
    assert lib.nom_voltage == pytest.approx(1.2)  # from the default operating conditions
    cell = lib.cells["NAND"]
    assert cell.leakage_nw == pytest.approx(4.0)  # 0.004 uW
    assert set(cell.pins) == {"A", "B", "Y"}
    assert cell.pins["B"].capacitance_pf == pytest.approx(0.003)
    arc = cell.pins["Y"].power[0]
    # variable_1 is the load here: load 0.01 pF is halfway along index_1, 0.1 ns halfway along
    # index_2, so the value is the mean of the four corners.
    assert arc.rise_pj == pytest.approx(2.5)
    assert arc.fall_pj == pytest.approx(0.5)
    # gzip is recognised by content, whatever the name.
    zipped = tmp_path / "tiny.txt"
    zipped.write_bytes(gzip.compress(SMALL_LIB.encode()))
    assert tech.parse_liberty(zipped).cells["NAND"].area_um2 == pytest.approx(2.5)


# ---- SKY130 --------------------------------------------------------------------------------

def test_sky130_known_values(sky130_cold):
    lib, _ = sky130_cold
    assert len(lib.cells) == 428
    assert lib.nom_voltage == pytest.approx(1.8)
    inv = lib.cells[SKY130 + "inv_1"]
    assert inv.area_um2 == pytest.approx(3.7536)
    assert inv.pins["A"].capacitance_pf == pytest.approx(0.002302)
    assert inv.leakage_nw == pytest.approx(0.0053, abs=5e-5)
    dff = lib.cells[SKY130 + "dfxtp_1"]
    assert dff.area_um2 == pytest.approx(20.0192)
    assert dff.pins["CLK"].capacitance_pf == pytest.approx(0.00179, abs=1e-5)
    assert dff.pins["CLK"].clock is True
    assert dff.sequential == "ff"
    icg = lib.cells[SKY130 + "dlclkp_1"]
    assert icg.clock_gating == "latch_posedge"
    assert icg.pins["GCLK"].direction == "output"


def test_sky130_split_internal_power_cancels_in_the_mean(sky130_cold):
    # SKY130 puts +0.5*C*V^2 into rise_power and -0.5*C*V^2 into fall_power, C being the load
    # plus the cell's own output capacitance: at the 0.01 pF reference load rise and fall differ
    # by a little more than C_load*V^2 = 0.0324 pJ, while their mean (the inverter's own
    # energy) is a few fJ.
    lib, _ = sky130_cold
    arc = lib.cells[SKY130 + "inv_1"].pins["Y"].power[0]
    assert 0.01 * 1.8 ** 2 < arc.rise_pj - arc.fall_pj < 0.05
    assert 0.001 < arc.transition_pj < 0.006


def test_cold_parse_is_fast_and_the_cache_hit_faster(sky130_cold, cache, tech_dir):
    lib, cold = sky130_cold
    assert cold < 8.0  # about 1 s on the project machine
    files = list((cache / "tech").glob("*.json"))
    assert any(f.stem == lib.sha256 for f in files)
    start = time.perf_counter()
    again = tech.load_liberty(tech_dir / tech.DEFAULT_LIBERTY_NAME)
    warm = time.perf_counter() - start
    assert warm < 0.5 and warm < cold / 3
    assert again == lib


def test_damaged_or_old_cache_is_reparsed(tmp_path, monkeypatch, tech_dir):
    monkeypatch.setenv("SUBTILE_CACHE", str(tmp_path))
    path = tech_dir / "asap7_small_ff.lib.gz"
    first = tech.load_liberty(path)
    target = tmp_path / "tech" / f"{first.sha256}.json"
    target.write_text("{not json")
    assert tech.load_liberty(path) == first
    data = json.loads(target.read_text())
    data["format"] = "old"
    data["name"] = "stale"
    target.write_text(json.dumps(data))
    assert tech.load_liberty(path).name == "asap7_small_ff"


def test_model_numbers_from_sky130(sky):
    assert sky.vdd_nominal == pytest.approx(1.8) and sky.vdd == sky.vdd_nominal
    assert sky.flop_clock_pin_cap_pf == pytest.approx(0.001794)
    assert sky.flop_area_um2 == pytest.approx(20.0192)
    assert sky.icg_clock_pin_cap_pf == pytest.approx(0.004151)
    assert sky.icg_area_um2 == pytest.approx(17.5168)
    # dfxtp_1 CLK pin: rise 0.0174-0.0182, fall 0.0223-0.0242 pJ over the transition index.
    assert 0.0195 < sky.flop_clock_energy_pj < 0.021
    # Mean input cap of inv/nand2/nor2/xor2/a21oi/mux2 inputs lies between the mux2 A0
    # (0.001558) and xor2 A (0.004377) pins.
    assert 0.002 < sky.logic_input_cap_pf < 0.0035
    assert sky.cell_area(SKY130 + "inv_1") == pytest.approx(3.7536)
    assert sky.cell_leakage_nw(SKY130 + "dfxtp_1") == pytest.approx(0.008438635)
    with pytest.raises(ConfigError, match=r"^cell: "):
        sky.cell_area("no_such_cell")


def test_energies_positive_and_ordered(sky):
    values = sky.to_dict()["derived"]
    assert all(v > 0 for v in values.values())
    assert 0 < sky.clock_pin_toggle_energy_pj() < sky.register_bit_toggle_energy_pj()
    assert sky.flop_clock_cycle_energy_pj() == pytest.approx(2 * sky.clock_pin_toggle_energy_pj())
    assert sky.logic_internal_energy_pj < sky.net_toggle_energy_pj()
    assert sky.net_toggle_energy_pj(1) < sky.net_toggle_energy_pj(3) < sky.net_toggle_energy_pj(6)
    assert sky.icg_disabled_cycle_energy_pj() < sky.icg_enabled_cycle_energy_pj()
    assert sky.flop_data_energy_pj == sky.register_bit_toggle_energy_pj()
    # Gating pays off for a handful of flops: an idle ICG costs less than the clock cycles of
    # two flops it silences.
    assert sky.icg_disabled_cycle_energy_pj() < 2 * sky.flop_clock_cycle_energy_pj()


def test_net_formula(sky):
    fanout = 2.0
    load = fanout * (sky.logic_input_cap_pf + sky.wire_cap_per_fanout_pf)
    expected = (0.5 * load * 1.8 ** 2 + sky.logic_internal_energy_pj
                + fanout * sky.logic_input_internal_energy_pj)
    assert sky.net_toggle_energy_pj(fanout) == pytest.approx(expected)
    assert sky.leakage_energy_pj(1e-8, cycles=10, flops=2) == pytest.approx(
        2 * sky.flop_leakage_nw * 1e-7 * 1e3)


def test_scaled_to_half_supply_quarters_every_dynamic_energy(sky):
    half = sky.scaled(0.9)
    assert half.vdd == 0.9 and half.vdd_nominal == sky.vdd_nominal
    for name in ("net_toggle_energy_pj", "register_bit_toggle_energy_pj",
                 "clock_pin_toggle_energy_pj", "icg_enabled_cycle_energy_pj",
                 "icg_disabled_cycle_energy_pj"):
        assert getattr(half, name)() == pytest.approx(getattr(sky, name)() / 4, rel=1e-12), name
    assert half.flop_leakage_nw == sky.flop_leakage_nw
    assert half.logic_input_cap_pf == sky.logic_input_cap_pf
    assert half.scaled(1.8).net_toggle_energy_pj() == pytest.approx(sky.net_toggle_energy_pj())


def test_custom_cells(cache):
    model = TechModel.from_liberty(flop=SKY130 + "dfxtp_4", logic=[SKY130 + "inv_2"],
                                   average_fanout=2.0)
    assert model.flop_area_um2 > 20.0192
    assert model.logic_cells == (SKY130 + "inv_2",)
    assert model.average_fanout == 2.0


def test_round_trip_through_json(sky):
    data = json.loads(json.dumps(sky.to_dict()))
    again = TechModel.from_dict(data)
    assert again == sky
    with pytest.raises(ConfigError, match=r"^tech: unknown key"):
        TechModel.from_dict({**data, "bogus": 1})


# ---- fallback ------------------------------------------------------------------------------

def test_fallback_from_horowitz():
    model = TechModel.fallback()
    assert model.vdd == 0.9
    # 0.1 pJ per 32-bit add over 32 full adders x 5 gates x 0.5 toggles = 1.25 fJ per net.
    assert model.net_toggle_energy_pj() == pytest.approx(0.00125, rel=2e-3)
    assert 0 < model.clock_pin_toggle_energy_pj() < model.register_bit_toggle_energy_pj()
    assert model.flop_leakage_nw == 0.0 and model.leakage_per_cell_nw == 0.0
    assert model.flop_area_um2 == pytest.approx(20.0192 * (45 / 130) ** 2)
    assert any("leakage" in note for note in model.notes)
    # A 32-bit multiply (3.1 pJ) is then ~2,500 net toggles: the same order as its ~6,000 gates.
    assert 1000 < 3.1 / model.net_toggle_energy_pj() < 6000


def test_fallback_proportions_match_the_shipped_library(sky):
    fb = TechModel.fallback()
    for name in ("clock_pin_toggle_energy_pj", "register_bit_toggle_energy_pj",
                 "icg_enabled_cycle_energy_pj", "icg_disabled_cycle_energy_pj"):
        ours = getattr(fb, name)() / fb.net_toggle_energy_pj()
        theirs = getattr(sky, name)() / sky.net_toggle_energy_pj()
        assert ours == pytest.approx(theirs, rel=0.02), name


# ---- errors --------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^lib: .*missing\.lib does not exist: pass --lib"):
        TechModel.from_liberty(tmp_path / "missing.lib")


@pytest.mark.parametrize("content", [b"hello world\n", b"library (x) { cell (a) { area : 1 ; }",
                                     b"\x1f\x8b\x08garbage",
                                     b"library (x) { nom_voltage : 1 ; cell (a) { area : w ; } }",
                                     b"library (x) { time_unit : \"1 fortnight\" ; }",
                                     b"library (x) { cell (a) { pin (A) { direction : input ; "
                                     b"capacitance ; } } }"])
def test_not_liberty(tmp_path, content):
    path = tmp_path / "bad.lib"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"^lib: ") as info:
        tech.parse_liberty(path)
    assert "\n" not in str(info.value)


def test_missing_cell_names_lib(cache, tech_dir):
    message = (r"^lib: cell sky130_fd_sc_hd__dfxtp_1 not found in asap7_small_ff\.lib\.gz: "
               r"pass --lib with a Liberty that has a D flip-flop, or name one with --flop$")
    with pytest.raises(ConfigError, match=message):
        TechModel.from_liberty(tech_dir / "asap7_small_ff.lib.gz")


def test_wrong_kind_of_cell(cache):
    with pytest.raises(ConfigError, match=r"^flop: cell sky130_fd_sc_hd__inv_1 .* not a flip-flo"):
        TechModel.from_liberty(flop=SKY130 + "inv_1")
    with pytest.raises(ConfigError, match=r"^icg: cell sky130_fd_sc_hd__inv_1 has no clock input"):
        TechModel.from_liberty(icg=SKY130 + "inv_1")
    with pytest.raises(ConfigError, match=r"^logic: "):
        TechModel.from_liberty(logic=[])


@pytest.mark.parametrize("call", [lambda m: m.net_toggle_energy_pj(0),
                                  lambda m: m.scaled(-1.0),
                                  lambda m: m.scaled(float("nan"))])
def test_bad_arguments(sky, call):
    with pytest.raises(ConfigError, match=r"^(fanout|vdd): must be in"):
        call(sky)


def test_shared_dir_from_environment(tmp_path, monkeypatch, tech_dir):
    monkeypatch.setenv("SUBTILE_SHARED", str(tmp_path))
    with pytest.raises(ConfigError, match=r"^SUBTILE_SHARED: .* has no tech/ folder"):
        tech.shared_dir()
    monkeypatch.setenv("SUBTILE_SHARED", str(tech_dir.parent))
    assert tech.default_liberty_path() == tech_dir / tech.DEFAULT_LIBERTY_NAME
    monkeypatch.delenv("SUBTILE_SHARED")
    assert (tech.shared_dir() / "tech" / tech.DEFAULT_LIBERTY_NAME).is_file()


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBTILE_CACHE", str(tmp_path))
    assert tech.cache_dir() == tmp_path / "tech"
    monkeypatch.delenv("SUBTILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tech.cache_dir() == tmp_path / "xdg" / "subtile" / "tech"


def test_unpacked_liberty_is_a_plain_file_in_the_folder(tmp_path):
    import gzip

    from subtile.tech.liberty import unpacked_liberty
    text = b"library (x) { cell (a) { area : 1; } }\n"
    (tmp_path / "src").mkdir()
    packed, plain = tmp_path / "src" / "cells.lib.gz", tmp_path / "src" / "other.lib"
    packed.write_bytes(gzip.compress(text))
    plain.write_bytes(text)
    for source, name in ((packed, "cells.lib"), (plain, "other.lib")):
        folder = tmp_path / f"run_{name}"
        folder.mkdir()
        target = unpacked_liberty(source, folder)
        assert target == folder / name and target.read_bytes() == text
        assert sorted(p.name for p in folder.iterdir()) == [name]        # no temporary left
        assert unpacked_liberty(source, folder) == target                # reused
