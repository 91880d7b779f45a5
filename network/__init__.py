"""Bring your own network: front ends (native, ONNX, NIR) into one graph of layers, per-layer
quantization, the mapper onto tiles and meshes, and golden / RTL runs (issue 14; docs/network.md).

The flow, one module each::

    from subtile.network import native, quantize, mapper, run
    graph = native.load("model.toml")          # or onnx_front.load("m.onnx") / nir_front.load("m.nir")
    q = quantize.quantize(graph, weight_bits=8)
    mapped = mapper.map_network(q)             # MeshConfig + contents + axon tables
    report = run.evaluate(q, mapped, x, y, rtl=True)

:func:`run.golden_batch` evaluates thousands of samples in a fraction of a second (the golden
mesh with a batch axis, :mod:`subtile.golden.batch`); :func:`run.sequential_program` and
:func:`run.rtl_run` give the program the RTL plays and its results.
"""
