"""Shared by the command-line tests."""

import pytest


@pytest.fixture
def forbid_tools():
    """:func:`_forbid_tools`, for tests that check a refusal comes before any tool runs."""
    return _forbid_tools


def _forbid_tools(patch):
    """Make generation, simulator builds and runs and synthesis fail the test (with ``patch``, a
    ``pytest.MonkeyPatch``): what is refused "before any tool runs" must not reach them."""
    import amaranth.back.rtlil
    import amaranth.back.verilog
    import subtile.gen.design_cache
    import subtile.gen.synth
    import subtile.toolchain.runner
    import subtile.toolchain.yowasp

    def refuse(name):
        def tool(*args, **kwargs):
            raise AssertionError(f"{name} ran although the command is refused")
        return tool

    # design_key: every generation, from the cache (design_cache) or not (Amaranth's convert)
    for module, name in [(amaranth.back.verilog, "convert"), (amaranth.back.rtlil, "convert"),
                         (subtile.gen.design_cache, "design_key"),
                         (subtile.toolchain.runner, "build"), (subtile.toolchain.runner, "run"),
                         (subtile.toolchain.yowasp, "run_yowasp"), (subtile.gen.synth, "run_yowasp")]:
        patch.setattr(module, name, refuse(f"{module.__name__}.{name}"))
