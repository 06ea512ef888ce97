"""Ionic relaxation as VASP's IBRION / ISIF / NSW / EDIFFG / POTIM describe it.

Generalised coordinates are the Cartesian positions in the reference cell plus, when ISIF lets the
cell move, the symmetric strain scaled by lambda = sqrt(V / 20 A) so that cell and atomic stiffnesses
are alike.  Optimisers (one ionic step = one energy/force evaluation, as in VASP's OSZICAR):

* IBRION = 1 and 2: quasi-Newton (BFGS on the inverse Hessian, initial curvature 1/(0.04*POTIM)
  eV/A^2, steps capped at 0.2 A).  VASP's IBRION = 2 is a conjugate-gradient line search; a CG with a
  cubic line minimisation (`_cg`) proved unstable on the model's energy surface, so IBRION = 2 uses the
  same quasi-Newton steps (documented deviation);
* IBRION = 3: damped ("quick-min") molecular dynamics with time step POTIM.

Convergence: EDIFFG < 0 stops when every force (and, with a movable cell, every generalised cell
force) is below |EDIFFG| eV/A; EDIFFG > 0 stops when the energy change between ionic steps is below it.
"""

from __future__ import annotations

import numpy as np

STRAIN_INDEX = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


class Coordinates:
    """Maps (lattice, frac) <-> generalised vector x, and forces/virial -> gradient of x."""

    def __init__(self, lattice0, frac0, isif: int, selective=None):
        self.l0 = np.asarray(lattice0, float)
        self.n = len(frac0)
        self.isif = isif
        self.lam = np.sqrt(abs(np.linalg.det(self.l0)) / 20.0)
        self.move_atoms = isif not in (5, 6, 7)
        self.move_cell = isif >= 3
        mask = np.ones((self.n, 3), bool) if selective is None else np.asarray(selective, bool)
        self.pos_mask = mask.ravel() if self.move_atoms else np.zeros(3 * self.n, bool)

    def strain_matrix(self, s6):
        e = np.zeros((3, 3))
        for v, (a, b) in zip(s6, STRAIN_INDEX, strict=True):
            e[a, b] = e[b, a] = v if a == b else 0.5 * v
        return e

    def to_x(self, frac, strain6):
        u = (np.asarray(frac) @ self.l0).ravel()
        return np.concatenate([u, np.asarray(strain6) * self.lam])

    def from_x(self, x):
        u = x[: 3 * self.n].reshape(self.n, 3)
        s6 = x[3 * self.n :] / self.lam
        deform = np.eye(3) + self.strain_matrix(s6)
        lattice = self.l0 @ deform
        frac = np.linalg.solve(self.l0.T, u.T).T
        return lattice, frac, s6

    def gradient(self, x, forces, virial):
        """dE/dx for the free coordinates (zeros elsewhere)."""
        _, _, s6 = self.from_x(x)
        deform = np.eye(3) + self.strain_matrix(s6)
        g_pos = (-forces @ deform.T).ravel() * self.pos_mask
        g_cell = np.zeros(6)
        if self.move_cell:
            vinv = np.linalg.inv(deform)
            w = vinv @ virial  # dE/d(strain) referred to the reference cell (small-strain form)
            full = np.array([w[a, b] if a == b else w[a, b] + w[b, a] for a, b in STRAIN_INDEX])
            if self.isif == 4 or self.isif == 5:  # constant volume: remove the trace part
                full[:3] -= full[:3].mean()
            if self.isif == 7:  # volume only
                full[:3] = full[:3].mean()
                full[3:] = 0.0
            g_cell = full / self.lam
        return np.concatenate([g_pos, g_cell])

    def max_force(self, grad) -> float:
        pos = grad[: 3 * self.n].reshape(self.n, 3)
        fmax = float(np.max(np.linalg.norm(pos, axis=1))) if self.n else 0.0
        if self.move_cell:
            fmax = max(fmax, float(np.max(np.abs(grad[3 * self.n :]))))
        return fmax


class Optimizer:
    """Proposes the next geometry from the history of energies and gradients."""

    def __init__(self, ibrion: int, potim: float, nfree: int = 0):
        self.ibrion = ibrion
        self.potim = potim if potim > 0 else 0.5
        self.h_inv = None
        self.prev = None  # (x, g) of the previous step
        self.direction = None
        self.line = None  # CG line search state
        self.velocity = None
        self.max_step = 0.2

    def _cap(self, step, n_atoms):
        pos = step[: 3 * n_atoms].reshape(n_atoms, 3)
        longest = max(
            float(np.max(np.linalg.norm(pos, axis=1))) if n_atoms else 0.0,
            float(np.max(np.abs(step[3 * n_atoms :]))) if len(step) > 3 * n_atoms else 0.0,
        )
        if longest > self.max_step:
            step = step * (self.max_step / longest)
        return step

    def step(self, x, energy, grad, n_atoms):
        if self.ibrion == 3:
            return self._damped(x, grad, n_atoms)
        # IBRION 1 and 2: quasi-Newton (the CG line search below is kept for reference but is not robust
        # enough on the model's energy surface; see README "Relaxation")
        return self._bfgs(x, grad, n_atoms)

    def _bfgs(self, x, g, n_atoms):
        dim = len(x)
        if self.h_inv is None:
            self.h_inv = np.eye(dim) * (0.04 * self.potim)
        elif self.prev is not None:
            s = x - self.prev[0]
            y = g - self.prev[1]
            sy = float(s @ y)
            if sy > 1e-10:
                rho = 1.0 / sy
                eye = np.eye(dim)
                self.h_inv = (eye - rho * np.outer(s, y)) @ self.h_inv @ (eye - rho * np.outer(y, s)) + rho * np.outer(
                    s, s
                )
        self.prev = (x.copy(), g.copy())
        return x + self._cap(-self.h_inv @ g, n_atoms)

    def _damped(self, x, g, n_atoms):
        force = -g
        if self.velocity is None:
            self.velocity = np.zeros_like(x)
        dt = 0.2 * self.potim
        vf = float(self.velocity @ force)
        if vf < 0:
            self.velocity[:] = 0.0
        else:
            fn = np.linalg.norm(force)
            if fn > 0:
                self.velocity = vf / fn * force / fn
        self.velocity = self.velocity + dt * force
        return x + self._cap(dt * self.velocity, n_atoms)

    def _cg(self, x, energy, g, n_atoms):
        if self.line is not None:
            x0, e0, d, slope0, alpha = self.line
            slope1 = float(g @ d)
            # cubic through (0, e0, slope0) and (alpha, energy, slope1)
            a_min = _cubic_min(e0, slope0, energy, slope1, alpha)
            a_min = float(np.clip(a_min, 0.1 * alpha, 4.0 * alpha))
            self.line = None
            self._start_dir = None
            step = self._cap(x0 + a_min * d - x, n_atoms)
            self.after_line = True
            return x + step
        # new direction (Polak-Ribiere)
        if self.prev is None or self.direction is None:
            d = -g
        else:
            g_old = self.prev[1]
            beta = max(0.0, float(g @ (g - g_old)) / max(float(g_old @ g_old), 1e-30))
            d = -g + beta * self.direction
            if float(d @ g) >= 0:
                d = -g
        self.prev = (x.copy(), g.copy())
        self.direction = d
        trial = self._cap(0.1 * self.potim * d, n_atoms)
        alpha = float(np.linalg.norm(trial) / max(np.linalg.norm(d), 1e-30))
        if alpha <= 0:
            return x
        self.line = (x.copy(), energy, d, float(g @ d), alpha)
        return x + alpha * d


def _cubic_min(e0, s0, e1, s1, a):
    """Minimum of the cubic matching energies and slopes at 0 and a (falls back to the secant)."""
    d1 = s0 + s1 - 3 * (e0 - e1) / a
    disc = d1 * d1 - s0 * s1
    if disc >= 0:
        d2 = np.sqrt(disc)
        denom = s1 - s0 + 2 * d2
        if abs(denom) > 1e-30:
            t = a - a * (s1 + d2 - d1) / denom
            if np.isfinite(t) and t > 0:
                return t
    if s0 != s1:
        t = a * s0 / (s0 - s1)
        if t > 0:
            return t
    return 2.0 * a
