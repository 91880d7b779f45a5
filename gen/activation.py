"""Generation of one activation unit: Verilog plus manifest."""

from subtile.spec.activation import ActivationSpec
from subtile.hdl.activation import ActivationUnit
from subtile.gen.verilog import GeneratedDesign, generate

__all__ = ["generate_activation", "default_top"]


def default_top(spec: ActivationSpec) -> str:
    return f"{spec.function}_{spec.impl}"


def generate_activation(spec: ActivationSpec, *, top: str | None = None) -> GeneratedDesign:
    """Verilog and manifest of the activation unit described by ``spec``."""
    unit = ActivationUnit(spec)
    plan = unit.plan
    return generate(
        unit, top=top or default_top(spec),
        kind="activation",
        latency=spec.latency,
        input_format=str(spec.input_format),
        output_format=str(spec.output_format),
        function=spec.function_def.description,
        parameters=plan.to_dict(),
    )
