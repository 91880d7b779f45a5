"""Analysed surviving mutants (docs/mutation-equivalents.toml): reading and matching them."""

from __future__ import annotations

import re
from pathlib import Path

from subtile.errors import ConfigError
from subtile.mutate.sites import Mutation

__all__ = ["load_equivalents", "match_equivalent"]


_ENTRY_KEYS = {"module", "lhs", "original", "mutated", "class", "reason"}
_ENTRY_OPTIONAL = {"occurrence", "proof", "assume"}
_PATTERN = re.compile(r"^(tile|mesh)(\.(lane|branch|interface|tile)_(\d+|\*)|\.[A-Za-z_][A-Za-z0-9_]*)*$")


def load_equivalents(path) -> list[dict]:
    """Analysed surviving mutants: the TOML ``[[mutant]]`` tables of ``path`` (see
    docs/mutation-equivalents.toml), validated.

    An entry names a mutant by its site text, not by its position: ``module`` (a path below the
    harness; ``lane_*`` / ``branch_*`` stand for every copy, whose statements are the same text),
    ``lhs``, ``original`` and ``mutated`` (the statement before and after the fault, as
    :meth:`Mutation.describe` prints them), optionally ``occurrence`` (the how-many-th statement of
    that text in the module, from 0; default 0), and ``class`` and ``reason``. ``proof = "sat"``
    says the entry is proved with :func:`equivalence_check` (tests/mutate/test_mutate.py runs it), for
    every input of the unit or, with ``assume``, for the inputs satisfying that Verilog
    expression over the unit's ports (a premise the reason justifies).
    """
    import tomllib
    try:
        entries = tomllib.loads(Path(path).read_text()).get("mutant", [])
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"equivalent: cannot read {path}: {error}") from None
    if not isinstance(entries, list):
        raise ConfigError(f"equivalent: {path}: `mutant` must be an array of tables ([[mutant]])")
    seen = {}
    out = []
    for index, entry in enumerate(entries):
        where = f"equivalent: entry {index} of {path}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} is not a table")
        if "statement" in entry:
            raise ConfigError(f"{where} has `statement` (an ordinal, which any HDL change shifts); "
                              "name the site by module, lhs, original and mutated")
        missing = _ENTRY_KEYS - set(entry)
        if missing:
            raise ConfigError(f"{where} lacks {', '.join(sorted(missing))}")
        unknown = set(entry) - _ENTRY_KEYS - _ENTRY_OPTIONAL
        if unknown:
            raise ConfigError(f"{where} has unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                              f"{', '.join(sorted(_ENTRY_KEYS | _ENTRY_OPTIONAL))}")
        for field in sorted(_ENTRY_KEYS):
            if not isinstance(entry[field], str) or not entry[field].strip():
                raise ConfigError(f"{where}: {field} must be a non-empty string")
        occurrence = entry.get("occurrence", 0)
        if isinstance(occurrence, bool) or not isinstance(occurrence, int) or occurrence < 0:
            raise ConfigError(f"{where}: occurrence {occurrence!r} is outside the allowed range 0..")
        if entry.get("proof", "sat") != "sat":
            raise ConfigError(f"{where}: proof {entry['proof']!r} is not sat (the only proof there is)")
        if "assume" in entry and ("proof" not in entry or not isinstance(entry["assume"], str)
                                  or not entry["assume"].strip()):
            raise ConfigError(f"{where}: assume must be a Verilog expression, given with proof = \"sat\"")
        if entry["class"] not in ("equivalent", "equivalent-config"):
            raise ConfigError(f"{where}: class {entry['class']!r} is not one of equivalent, equivalent-config")
        if not _PATTERN.match(entry["module"]):
            raise ConfigError(f"{where}: module {entry['module']!r} is not a module path below the harness "
                              "(tile, tile.synapses, tile.lane_0.soma, tile.lane_*.branch_*.activation, mesh.network.router_0_1.core, ...)")
        clean = {**entry, "occurrence": occurrence, "entry": index,
                 **{f: entry[f].strip() for f in ("module", "lhs", "original", "mutated")}}
        key = (clean["module"], clean["lhs"], occurrence, clean["original"], clean["mutated"])
        if key in seen:
            raise ConfigError(f"{where} repeats entry {seen[key]} (same module, lhs, original, mutated)")
        seen[key] = index
        out.append(clean)
    return out


def _module_regex(pattern: str) -> re.Pattern:
    return re.compile("^" + re.escape(pattern).replace(r"\*", r"\d+") + "$")


def match_equivalent(entries, mutation: Mutation) -> dict | None:
    """The first of ``entries`` (from :func:`load_equivalents`) that names ``mutation``, or None."""
    module, lhs, occurrence, original, mutated = mutation.key
    for entry in entries:
        if ((entry["lhs"], entry.get("occurrence", 0), entry["original"], entry["mutated"])
                == (lhs, occurrence, original, mutated) and _module_regex(entry["module"]).match(module)):
            return entry
    return None


def describe_entry(entry) -> str:
    return (f"entry {entry['entry']} ({entry['module']}: `{entry['lhs']} = {entry['original']}` -> "
            f"`{entry['mutated']}`)")
