"""Sweep workload kinds (explore/workload.py): the digits network per point against its float
model on the golden mesh, the flags of a silent point, validation of the [workload] table and
the digits axes, and the registry a new kind plugs into."""

import pytest

from subtile.cli.main import main
from subtile.errors import ConfigError
from subtile.explore.sweep import load_sweep, point_key
from subtile.explore.workload import (WORKLOADS, DigitsWorkload, NetworkWorkload, make_workload,
                                      register_workload)
from subtile.network import quantize as network_quantize
from subtile.network import run as network_run
from subtile.network.mapper import MapOptions, map_network
from subtile.workloads import digits


def _sweep(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\narea = []\n' + text)
    return path


def test_digits_points_against_the_float_network_on_the_golden_mesh(tmp_path):
    spec = load_sweep(_sweep(tmp_path, '[workload]\nkind = "digits"\nrtl = "none"\nimages = 120\n'
                                       '[axes]\nweight_format = ["fixed<8,2>", "fixed<3,1>", "fixed<3,5>"]\n'))
    workload = make_workload(spec.workload, spec.base)
    assert isinstance(workload, DigitsWorkload)
    points = [(point_key(p), p) for p in spec.points()]
    results = workload.evaluate(points, tmp_path / "w", ())
    assert [r[0] for r in results] == [k for k, _ in points] and all(r[3] is None for r in results)
    by = {r[1]["weight_format"]: r[2] for r in results}
    # the reference: the float network on the same 120 images, the same for every point
    x_train, y_train, x_test, y_test, _ = digits.load_digits_split(0)
    trained = digits.train(x_train, y_train, hidden=24, seed=0, epochs=600)
    float_accuracy = float((digits.float_predict(trained, x_test[:120]) == y_test[:120]).mean())
    assert all(m["accuracy_float"] == float_accuracy and m["samples"] == 120 for m in by.values())
    assert workload.reference()["accuracy_float"] == float_accuracy
    # the task metric is the golden mesh's class per image (quantized and run independently here)
    q = network_quantize.quantize(digits.graph(trained), 3, leak_shift=1, delta=1,
                                  payload_format=digits.PAYLOAD_FORMAT, internal_format=digits.INTERNAL_FORMAT)
    assert all(str(layer.weight_format) == "fixed<3,1>" for layer in q.layers)
    batch = network_run.golden_batch(map_network(q, MapOptions(neurons=64)), x_test[:120], steps=8)
    assert by["fixed<3,1>"]["accuracy"] == network_run.score(batch.values, y_test[:120])
    assert by["fixed<3,1>"]["synaptic_ops_per_inference"] == float(batch.synaptic_ops.mean()) > 0
    assert by["fixed<8,2>"]["accuracy"] > 0.9 and by["fixed<8,2>"]["err_rms_lsb"] < by["fixed<3,1>"]["err_rms_lsb"]
    # fixed<3,5>: every weight rounds to zero, nothing leaves the mesh, the class is always 0
    silent = by["fixed<3,5>"]
    assert silent["silent"] and silent["at_chance"] and silent["outputs_moved_per_inference"] == 0
    assert silent["synaptic_ops_per_inference"] == 0 and silent["accuracy"] == float((y_test[:120] == 0).mean())
    assert not by["fixed<8,2>"]["silent"] and not by["fixed<8,2>"]["at_chance"]
    assert by["fixed<8,2>"]["weight_formats"] == ["fixed<8,2>", "fixed<8,2>"]


def test_digits_axes_reach_both_tiles():
    workload = DigitsWorkload(DigitsWorkload.validate({"kind": "digits"}), {})
    point = workload.map({"weight_bits": 4, "gating": "none", "soma_activation.impl": "lut", "delta": 3})
    tiles = [point.mapped.config.tile_config(i) for i in range(2)]
    assert point.formats == ("fixed<4,2>", "fixed<4,1>")
    assert [str(t.weight_format) for t in tiles] == list(point.formats)
    assert all(t.gating == "none" and t.soma_activation.impl == "lut" and t.delta == 3 for t in tiles)
    assert point.q.delta == 3 and point.steps == 8


@pytest.mark.parametrize("text, message", [
    ('[workload]\nkind = "digits"\nrtl = "some"\n[axes]\nweight_bits = [8]\n', "workload.rtl: 'some' is not one of all, none"),
    ('[workload]\nkind = "digits"\nhidden = 1\n[axes]\nweight_bits = [8]\n', "workload.hidden: 1 is outside"),
    ('[workload]\nkind = "digits"\nactivity = 0.5\n[axes]\nweight_bits = [8]\n', "workload: unknown key(s) activity"),
    ('[workload]\nkind = "digits"\n[axes]\nneurons = [8]\n', "axes.neurons: not an axis of this workload"),
    ('[workload]\nkind = "digits"\n[axes]\n"soma_activation.function" = ["relu"]\n',
     "axes.soma_activation.function: not an axis of this workload"),
    ('[workload]\nkind = "random"\n[axes]\nweight_bits = [8]\n', "axes.weight_bits: not a tile field"),
])
def test_bad_workload_tables_are_one_line_errors(tmp_path, text, message, capsys):
    path = _sweep(tmp_path, text)
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        load_sweep(path)
    assert main(["sweep", str(path), "--db", str(tmp_path / "x.sqlite")]) == 2
    assert not (tmp_path / "x.sqlite").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.split(":")[0] in err[0]


def test_a_new_network_kind_plugs_in_with_its_hooks(tmp_path):
    """What issue 14's ``model`` workload does: subclass, give prepare/map/program, register."""
    class Halves(DigitsWorkload):
        KIND = "digits-halves"

        def prepare(self):
            prep = super().prepare()
            prep.inputs, prep.labels, prep.float_outputs = prep.inputs[:40], prep.labels[:40], prep.float_outputs[:40]
            return prep

    try:
        register_workload(Halves)
        spec = load_sweep(_sweep(tmp_path, '[workload]\nkind = "digits-halves"\nrtl = "none"\n'
                                           '[axes]\nweight_bits = [6]\n'))
        workload = make_workload(spec.workload, spec.base)
        assert isinstance(workload, NetworkWorkload) and type(workload) is Halves
        ((key, params, metrics, error),) = workload.evaluate([("k", {"weight_bits": 6})], tmp_path, ())
        assert error is None and metrics["samples"] == 40 and 0.8 < metrics["accuracy"] <= 1.0
    finally:
        WORKLOADS.pop("digits-halves", None)


DIGITS_SWEEP = """
[sweep]
name = "digits-bits"
batch = 3
area = []

[workload]
kind = "digits"
rtl_images = 4

[axes]
weight_format = ["fixed<8,2>", "fixed<4,2>", "fixed<3,5>"]
"""


def test_digits_sweep_on_rtl_then_report_front_and_silent_point(tmp_path, capsys):
    """Done-when of issue 15: a digits sweep (3 points, golden over the 360 test images, RTL on
    4 of them in one Verilator build) puts the 8-bit point on the front and marks the silent
    point (fixed<3,5>: every weight rounds to zero), which the report never recommends."""
    import json
    from subtile.explore.report import write_report
    from subtile.explore.sweep import sweep_records
    path = tmp_path / "digits.toml"
    path.write_text(DIGITS_SWEEP)
    db = tmp_path / "digits.sqlite"
    assert main(["sweep", str(path), "--db", str(db), "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["stored"] == 3 and printed["failed"] == 0
    records = {r["weight_format"]: r for r in sweep_records(db)}
    assert printed["reference"]["accuracy_float"] == records["fixed<8,2>"]["accuracy_float"] > 0.9
    assert all(r["status"] == "ok" for r in records.values()), [r["error"] for r in records.values()]
    for r in records.values():
        # the RTL ran on the first 4 images, matched the golden mesh event for event, and costed
        assert r["rtl_samples"] == 4 and r["rtl_golden_agreement"] == 1.0 and r["cycles_per_inference"] > 0
        assert 0 < r["energy_min_pj_per_inference"] < r["energy_pj_per_inference"]
        assert 0 < r["network_energy_share"] < 1 and r["flops"] > 0 and r["samples"] == 360
    eight, four, silent = records["fixed<8,2>"], records["fixed<4,2>"], records["fixed<3,5>"]
    assert eight["accuracy"] > four["accuracy"] > 0.9 and eight["accuracy_rtl"] == 1.0
    assert eight["err_rms_lsb"] < four["err_rms_lsb"] < silent["err_rms_lsb"]
    assert silent["silent"] and silent["at_chance"] and silent["outputs_moved_per_inference"] == 0
    assert not eight["silent"] and not eight["at_chance"]
    assert silent["energy_pj_per_inference"] < four["energy_pj_per_inference"]   # the cheapest, and useless
    summary = write_report(db, tmp_path / "report")
    assert eight["key"] in summary["pareto"] and silent["key"] not in summary["pareto"]
    assert summary["flagged"] == [silent["key"]]
    # within 1 point of the float accuracy only the 8-bit point qualifies
    assert four["accuracy"] < eight["accuracy_float"] - 0.01 <= eight["accuracy"]
    assert summary["recommended"] == eight["key"]
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["recommended"] == summary["recommended"]
