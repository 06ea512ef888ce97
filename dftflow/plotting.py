"""Figures in the style of the papers, from analysis objects (matplotlib, imported lazily, Agg backend).

* dos_figure: total DOS with W-d, O-p (and H-s) projections, E_F and the CBM marked (study K Fig. 5b).
* band_figure: zero at the highest occupied state; bands below the VBM and above the CBM in two
  colours, defect bands highlighted (study K Fig. 5c).
* level_trend_figure: defect level below the CBM against H concentration (study Y Fig. 5 trend).
* site_energy_figure: relative energies of V_O at s_x, s_y, s_z.
* formation_energy_figure: E_f versus E_F per chemical-potential limit, lowest charge state bold,
  transition levels marked (the diagram every defect paper shows).
* parchg_figure: partial charge density of the in-gap states (study K Suppl. Fig. 11), on the plane
  through the defect that holds most of it.
Every figure made from mock-vasp runs carries a "MODEL OUTPUT - not DFT" stamp. Each is saved as PNG
and SVG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dftflow.vasp.kpoints import GAMMA_LABELS

MODEL_STAMP = "MODEL OUTPUT (mock-vasp) - not DFT"
VALENCE, CONDUCTION, DEFECT = "#1f4e9c", "#c8501e", "#1a9641"
PROJECTIONS = (("W_d", "W 5d", "#c8501e"), ("O_p", "O 2p", "#1f4e9c"), ("H_s", "H 1s", "#1a9641"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, path: Path, model: bool) -> dict[str, Path]:
    if model:
        fig.text(0.99, 0.01, MODEL_STAMP, ha="right", va="bottom", fontsize=8, color="#b00000", alpha=0.8)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for ext in ("png", "svg"):
        target = path.with_suffix(f".{ext}")
        fig.savefig(target, dpi=150, bbox_inches="tight")
        out[ext] = target
    _pyplot().close(fig)
    return out


def dos_figure(panels: list[dict], path: Path, model: bool, window=(-3.0, 5.0)) -> dict[str, Path]:
    """panels: [{"title", "energies", "total" (spin, E), "parts" {name: (spin, E)}, "zero", "efermi", "cbm"}]."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(6, 2.2 * len(panels) + 0.6), sharex=True, squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        e = np.asarray(panel["energies"]) - panel["zero"]
        ax.fill_between(e, np.sum(panel["total"], axis=0), color="#bbbbbb", label="total", lw=0)
        for key, name, color in PROJECTIONS:
            if key in panel["parts"]:
                ax.plot(e, np.sum(panel["parts"][key], axis=0), color=color, lw=1.2, label=name)
        ax.axvline(panel["efermi"] - panel["zero"], color="k", ls="--", lw=0.9, label="$E_F$")
        if panel.get("cbm") is not None:
            ax.axvline(panel["cbm"] - panel["zero"], color=CONDUCTION, ls=":", lw=1.2, label="CBM")
        ax.set_xlim(*window)
        visible = (e >= window[0]) & (e <= window[1])
        top = float(np.sum(panel["total"], axis=0)[visible].max()) if visible.any() else 1.0
        ax.set_ylim(0, 1.05 * top if top > 0 else 1)
        ax.set_ylabel("DOS (states/eV)")
        ax.set_title(panel["title"], fontsize=10, loc="left")
    axes[0, 0].legend(fontsize=7, ncol=3, loc="upper left")
    axes[-1, 0].set_xlabel("E - E$_{VBM}$ (eV)")
    fig.tight_layout()
    return _finish(fig, path, model)


def band_figure(panels: list[dict], path: Path, model: bool, window=(-2.5, 4.5)) -> dict[str, Path]:
    """panels: [{"title", "distance" (k,), "bands" (spin, k, band), "zero", "filled_top" (optional: the
    highest filled band's top), "valence_bands" {(spin, band)} (filled host bands), "defect_bands"
    {(spin, band)}, "ticks" [(x, label)]}]."""
    plt = _pyplot()
    # a metallic cell's zero lies in the conduction band: show 1 eV of its filled bands below too
    low = min([window[0]] + [p["filled_top"] - p["zero"] - 1.0 for p in panels if "filled_top" in p])
    window = (low, window[1])
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 0.6, 4.2), sharey=True, squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        x = np.asarray(panel["distance"])
        bands = np.asarray(panel["bands"]) - panel["zero"]
        defect = panel.get("defect_bands", set())
        for spin in range(bands.shape[0]):
            for b in range(bands.shape[2]):
                y = bands[spin, :, b]
                if (spin, b) in defect:
                    ax.plot(x, y, color=DEFECT, lw=2.0, zorder=3)
                elif (spin, b) in panel["valence_bands"]:
                    ax.plot(x, y, color=VALENCE, lw=0.8)
                else:
                    ax.plot(x, y, color=CONDUCTION, lw=0.8)
        for pos, _label in panel["ticks"]:
            ax.axvline(pos, color="#999999", lw=0.5)
        ax.set_xticks([p for p, _ in panel["ticks"]], [_tex(lab) for _, lab in panel["ticks"]])
        ax.axhline(0, color="k", ls="--", lw=0.7)
        ax.set_xlim(x.min(), x.max())
        ax.set_ylim(*window)
        ax.set_title(panel["title"], fontsize=10)
    axes[0, 0].set_ylabel("E - E$_{highest\\ occupied}$ (eV)")
    handles = [plt.Line2D([], [], color=c, lw=w) for c, w in ((VALENCE, 1), (CONDUCTION, 1), (DEFECT, 2))]
    axes[0, -1].legend(handles, ["below VBM", "above CBM", "defect state"], fontsize=7, loc="upper right")
    fig.tight_layout()
    return _finish(fig, path, model)


def _tex(label: str) -> str:
    return "$\\Gamma$" if label in GAMMA_LABELS else label


def level_trend_figure(points: list[dict], path: Path, model: bool) -> dict[str, Path]:
    """points: [{"x": H per W, "below_cbm": eV or None, "metallic": bool, "label"}]: a level where there is
    one, a square at 0 for a metallic cell, a cross at 0 for a cell with no localised level."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    xs = [p["x"] for p in points if p["below_cbm"] is not None]
    ys = [p["below_cbm"] for p in points if p["below_cbm"] is not None]
    ax.plot(xs, ys, "o-", color=DEFECT, label="localised in-gap level")
    metallic = [p["x"] for p in points if p["metallic"]]
    if metallic:
        ax.scatter(metallic, [0.0] * len(metallic), marker="s", color=CONDUCTION, zorder=3, label="metallic")
    shallow = [p["x"] for p in points if p["below_cbm"] is None and not p["metallic"]]
    if shallow:
        ax.scatter(shallow, [0.0] * len(shallow), marker="x", color="k", zorder=3, label="no localised level")
    ax.axhline(0, color="k", lw=0.7)
    ax.set_xlabel("x in H$_x$WO$_3$")
    ax.set_ylabel("level below the CBM (eV)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path, model)


def site_energy_figure(rows: list[dict], path: Path, model: bool) -> dict[str, Path]:
    """rows: [{"site", "relative_hybrid", "relative_relax"}] (eV)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    sites = [r["site"] for r in rows]
    x = np.arange(len(rows))
    ax.bar(x - 0.18, [r["relative_hybrid"] for r in rows], 0.36, color=CONDUCTION, label="hybrid static")
    ax.bar(x + 0.18, [r["relative_relax"] for r in rows], 0.36, color=VALENCE, label="PBEsol relax")
    ax.set_xticks(x, sites)
    ax.set_ylabel("E - E$_{min}$ (eV)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path, model)


def formation_energy_figure(panels: list[dict], path: Path, model: bool) -> dict[str, Path]:
    """One panel per chemical-potential limit: E_f versus E_F across the reference gap for every charge
    state of every defect (thin), the lowest charge state of each defect bold, its transition levels
    marked and named. panels: [{"limit", "gap", "defects": {name: {"lines": [(q, E_f at VBM)],
    "transitions": [(E_F, E_f, "e(+2/+1)")]}}}]."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.9), squeeze=False, sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, panel in zip(axes[0], panels, strict=True):
        gap = panel["gap"]
        fermi = np.linspace(0.0, gap, 200)
        for colour, (name, defect) in zip(colours * 4, panel["defects"].items(), strict=False):
            energies = np.array([[q * f + e for f in fermi] for q, e in defect["lines"]])
            for (q, _), line in zip(defect["lines"], energies, strict=True):
                ax.plot(fermi, line, color=colour, lw=0.6, alpha=0.45)
                ax.annotate(f"{q:+d}", (fermi[-1], line[-1]), fontsize=6, color=colour, alpha=0.7)
            ax.plot(fermi, energies.min(axis=0), color=colour, lw=2.2, label=name)
            for x, y, text in defect["transitions"]:
                ax.plot([x], [y], "o", color=colour, ms=5)
                ax.annotate(text, (x, y), textcoords="offset points", xytext=(3, 6), fontsize=7, color=colour)
        ax.axvline(0, color="k", lw=0.7)
        ax.axvline(gap, color="k", lw=0.7, ls="--")
        ax.set_xlim(-0.05 * gap, 1.08 * gap)
        ax.set_title(panel["limit"], fontsize=9)
        ax.set_xlabel("E$_F$ - E$_{VBM}$ (eV)")
    axes[0][0].set_ylabel("formation energy (eV)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return _finish(fig, path, model)


def parchg_figure(panels: list[dict], path: Path, model: bool) -> dict[str, Path]:
    """Partial charge of each in-gap state: the density on the lattice plane through the defect that holds
    most of it, centred on the defect (x) with the W atoms within 1 A of the plane (o) (left), and the
    weight per W atom against its distance from the defect (right). panels: [{"title", "slice" (n1, n2),
    "axes", "normal", "extent" (lengths), "w_in_plane" [(x, y)], "defect_located", "distances", "weights",
    "charge"}]."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 2, figsize=(8.4, 3.3 * len(panels)), squeeze=False)
    for (ax_map, ax_w), panel in zip(axes, panels, strict=True):
        a, b = panel["extent"]
        (x_axis, y_axis), normal = panel["axes"], panel["normal"]
        ax_map.imshow(panel["slice"].T, origin="lower", extent=(0, a, 0, b), cmap="magma", aspect="equal")
        if panel["w_in_plane"]:
            x, y = np.array(panel["w_in_plane"]).T
            ax_map.scatter(x, y, s=18, facecolors="none", edgecolors="#7fd4ff", linewidths=0.8, label="W")
        if panel["defect_located"]:
            ax_map.scatter([a / 2], [b / 2], marker="x", s=30, color="#7fd4ff", linewidths=1.0, label="defect")
        ax_map.set_title(f"{panel['title']} (plane normal to {normal}, through the defect)", fontsize=8)
        ax_map.set_xlabel(f"{x_axis} (A)")
        ax_map.set_ylabel(f"{y_axis} (A)")
        ax_w.bar(panel["distances"], panel["weights"], width=0.12, color=DEFECT)
        ax_w.set_xlabel("distance of the W from the defect (A)")
        ax_w.set_ylabel("share of the state's charge")
        ax_w.set_title(f"weight per W ({panel['charge']:.2f} e in the file)", fontsize=8)
    fig.tight_layout()
    return _finish(fig, path, model)


def extent_figure(panels: list[dict], path: Path, model: bool) -> dict[str, Path]:
    """Per localised level: weight per W against its distance from the defect, and the W positions on the
    level's two main principal axes with marker area proportional to the weight. panels: [{"title",
    "summary", "distances", "weights", "x", "y"}]."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 2, figsize=(8.4, 3.0 * len(panels)), squeeze=False)
    for (ax_w, ax_map), panel in zip(axes, panels, strict=True):
        ax_w.bar(panel["distances"], panel["weights"], width=0.15, color=DEFECT)
        ax_w.set_xlabel("distance of the W from the defect (A)")
        ax_w.set_ylabel("share on the W")
        ax_w.set_title(panel["title"], fontsize=8)
        ax_map.scatter(panel["x"], panel["y"], s=2 + 600 * panel["weights"], color=DEFECT, alpha=0.7)
        ax_map.scatter(panel["x"], panel["y"], s=2, color="k")
        ax_map.set_aspect("equal")
        ax_map.set_xlabel("principal axis 1 (A)")
        ax_map.set_ylabel("principal axis 2 (A)")
        ax_map.set_title(panel["summary"], fontsize=8)
    fig.tight_layout()
    return _finish(fig, path, model)
