"""Site energetics and vacancy arrangements: which site, orbit and arrangement a vacancy prefers.

* Site energies: cells of the same composition, charge and size (V_O2+ at s_x, s_y, s_z, on each of the
  two crystallographic orbits P2_1/n has per chain axis) relative to the lowest, from the hybrid single
  points and the PBEsol relaxations; each axis's spread over its orbits is given, so a ranking of
  s_x/s_y/s_z can be seen not to depend on the orbit picked.
* Arrangements: systems of one study-file entry that differ only in the spacing of aligned vacancies
  (spacing: [neighbour, cell]); the lowest-energy one (hybrid) is marked, and the concentration series
  uses it (StudyResults.series_systems).
"""

from __future__ import annotations

from dftflow.analysis.energetics import relative_energies


def site_energy_rows(statics: dict, relaxes: dict) -> list[dict]:
    """statics, relaxes: system -> RunData of the defect cells. Rows of every group of two or more cells
    with the same composition and charge, each with its site label(s), orbit(s) and the spread of its
    axis over orbits."""
    hybrid = {row["task_label"]: row for row in relative_energies(list(statics.values()))}
    relax = {row["task_label"]: row for row in relative_energies(list(relaxes.values()))}
    groups: dict[tuple, list[dict]] = {}
    for system, static in statics.items():
        h = hybrid[static.label]
        r = relax.get(relaxes[system].label) if system in relaxes else None
        sites = static.task.defect.sites if static.task.defect else []
        vacancies = [d for d in sites if d.get("type") == "vacancy"]
        row = {
            "system": system,
            "site": ",".join(sorted({str(d.get("label")) for d in vacancies})) or system,
            "orbit": ",".join(str(d.get("orbit")) for d in vacancies if d.get("orbit") is not None),
            "charge": h["charge"],
            "energy_hybrid": h["energy"],
            "relative_hybrid": h["relative"],
            "energy_relax": r["energy"] if r else None,
            "relative_relax": r["relative"] if r else None,
            "executor": h["executor"],
        }
        groups.setdefault((h["charge"], static.task.formula_pretty, static.task.nsites), []).append(row)
    rows = [row for members in groups.values() if len(members) > 1 for row in members]
    for row in rows:
        same_axis = [r["relative_hybrid"] for r in rows if r["site"] == row["site"] and r["charge"] == row["charge"]]
        row["axis_spread_hybrid"] = max(same_axis) - min(same_axis)
    return rows


def arrangement_rows(statics: dict, groups: dict[str, list[str]]) -> list[dict]:
    """groups: entry name -> systems that differ only in vacancy spacing. Per arrangement: its hybrid energy
    relative to the group's lowest, and whether it is the lowest (the one the series uses)."""
    rows = []
    for group, members in groups.items():
        energies = {s: statics[s].task.output.energy for s in members if s in statics}
        if len(energies) < 2:
            continue
        lowest = min(energies, key=energies.get)
        for system, energy in energies.items():
            rows.append(
                {
                    "group": group,
                    "system": system,
                    "spacing": statics[system].task.defect.descriptor if statics[system].task.defect else "",
                    "energy_hybrid": energy,
                    "relative_hybrid": energy - energies[lowest],
                    "lowest": system == lowest,
                    "executor": statics[system].executor,
                }
            )
    return rows
