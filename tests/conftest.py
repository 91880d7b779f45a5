"""Shared pytest settings and fixtures. Property-based tests are derandomized under CI
(CI=true), so a CI run is repeatable; locally they explore new examples each run. Fixtures
used by several test folders live here, each name with one meaning across the suite."""

import os

import pytest

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def sky130_tech():
    """The energy model of the default Liberty (sky130_fd_sc_hd tt 1.8 V), read once per run."""
    from subtile.power.tech_model import TechModel
    return TechModel.from_liberty()
