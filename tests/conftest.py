"""Shared pytest settings: property-based tests are derandomized under CI (CI=true), so a CI
run is repeatable; locally they explore new examples each run."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
