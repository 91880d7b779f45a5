"""Bring your own network: front ends (native, ONNX, NIR) into one graph of layers, per-layer
quantization, the mapper onto tiles and meshes, and golden / RTL runs (issue 14).

The flow, one module each::

    graph = native.load("model.toml")          # or onnx_front.load / nir_front.load
    q = quantize.quantize(graph, weight_bits=8)
    mapped = mapper.map_network(q)             # MeshConfig + contents + axon tables
    result = run.evaluate(graph, mapped, x, y, rtl=True)
"""
