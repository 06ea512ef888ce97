"""Dielectric response of the model (LEPSILON, LCALCEPS, IBRION 5-8): a linear-response calculation
on the tight-binding bands, written where VASP writes its DFPT / finite-field results.

Electronic (ion-clamped) tensor, independent particles, no local-field effects (the model has no
self-consistent density to respond):

    eps_inf_ab = delta_ab + (4 pi e^2 / V) sum_k w_k sum_{n != m} (f_n - f_m) Re[M^a_nm M^b_mn] / (e_m - e_n)^3

with the velocity matrix elements M^a = <n| dH/dK_a |m> of the Peierls (atomic-gauge) Hamiltonian,
dH/dK_a = sum_bonds i d_a t(d) e^{iK.d}; f includes the spin degeneracy.

Born effective charges (row a = field / polarisation direction, column b = displacement, as VASP):

    Z*_i,ab = (n0_i - n_i) delta_ab - 2 sum_k w_k sum_{n != m} f_n Im[M^a_nm D^{ib}_mn] / (e_n - e_m)^2

the first term the atom's static charge in the tight-binding shell (it moves with its orbitals), the
second the charge that flows through the bonds when atom i moves (D^{ib} = dH/du_ib of the same
Hamiltonian, including the Bloch-phase term i K_b t).  Both sum to zero over the cell (acoustic sum
rule) by construction.

Ionic tensor from the force constants Phi (central differences of the model's forces, +-POTIM or
0.015 A, every atom in x, y and z; on the KPOINTS set, or the cheaper force k-set of
kpoints.force_mesh for cells of 100 atoms or more) and the Born charges:

    eps_ion_ab = (4 pi e^2 / V) sum_{modes m, omega_m != 0} Zt_m,a Zt_m,b / omega_m^2

over the eigenmodes of the mass-weighted dynamical matrix, the three translations excluded.
"""

from __future__ import annotations

import numpy as np

from mock_vasp.band_filling import FilledBands, Filling
from mock_vasp.electrostatics import COULOMB
from mock_vasp.slater_koster import block_derivatives
from mock_vasp.tight_binding import TightBinding

DEGENERATE = 1e-4  # eV: pairs of states closer than this carry no interband response


def _cartesian_k(lattice: np.ndarray, kfrac: np.ndarray) -> np.ndarray:
    return np.asarray(kfrac, float) @ (2 * np.pi * np.linalg.inv(lattice).T)


def velocity_operators(tb: TightBinding, kfrac: np.ndarray) -> np.ndarray:
    """dH/dK_a (a = x, y, z) in the orbital basis of the lattice-gauge eigenvectors: (3, n, n) complex."""
    n = tb.basis.size
    out = np.zeros((3, n, n), complex)
    for g in tb.groups:
        phase = np.exp(2j * np.pi * (g.pairs.image @ kfrac))
        idx = (g.rows * n + g.cols).ravel()
        for a in range(3):
            vals = (1j * g.pairs.d[:, a] * phase)[:, None, None] * g.blocks
            flat = np.bincount(idx, weights=vals.real.ravel(), minlength=n * n) + 1j * np.bincount(
                idx, weights=vals.imag.ravel(), minlength=n * n
            )
            out[a] += flat.reshape(n, n)
    return out + np.conj(np.swapaxes(out, 1, 2))


def _pair_factors(e: np.ndarray, power: int) -> np.ndarray:
    """1 / (e_m - e_n)^power for n != m (zero for near-degenerate pairs)."""
    diff = e[None, :] - e[:, None]  # [n, m] = e_m - e_n
    with np.errstate(divide="ignore"):
        inv = np.where(np.abs(diff) > DEGENERATE, 1.0 / diff, 0.0)
    return inv**power


def electronic_response(
    tb: TightBinding, bands: FilledBands, filling: Filling, lattice, n0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(eps_inf (3, 3), Born charges (natoms, 3, 3)) from the weighted k-points of one evaluation."""
    kb = bands.kb
    natoms = len(tb.species)
    volume = abs(np.linalg.det(lattice))
    spins = filling.occ.shape[0]
    scale = 2.0 if spins == 1 else 1.0
    chi = np.zeros((3, 3))
    z_flow = np.zeros((natoms, 3, 3))
    populations = np.zeros(natoms)
    for ik in range(len(kb)):
        w = kb.weights[ik]
        if w <= 0:
            continue
        vec = kb.vectors[ik].astype(complex)
        e = kb.eigenvalues[ik]
        vel = velocity_operators(tb, kb.kpts[ik])
        m = np.einsum("in,aij,jm->anm", vec.conj(), vel, vec, optimize=True)  # M^a_nm
        kcart = _cartesian_k(lattice, kb.kpts[ik])
        for s in range(spins):
            f = np.zeros(tb.basis.size)
            sel = bands.is_tb[ik]
            f[bands.tb_index[ik, sel]] = filling.occ[s, ik, sel] * scale
            df = f[:, None] - f[None, :]  # f_n - f_m
            cube = _pair_factors(e, 3)
            for a in range(3):
                for b in range(a, 3):
                    val = w * float(np.sum(df * (m[a] * m[b].T).real * cube))
                    chi[a, b] += val
                    if a != b:
                        chi[b, a] += val
            square = _pair_factors(e, 2)
            # A^a_nm = f_n M^a_nm / (e_n - e_m)^2 ; B^a = C A^a C^+ in the orbital basis
            amat = f[:, None] * m * square[None]
            bmat = np.einsum("in,anm,jm->aij", vec, amat, vec.conj(), optimize=True)
            z_flow += w * _bond_response(tb, bmat, kb.kpts[ik], kcart)
            populations += w * np.bincount(tb.basis.atom_of_orbital, weights=(np.abs(vec) ** 2) @ f, minlength=natoms)
    eps = np.eye(3) + 4 * np.pi * COULOMB / volume * chi
    born = (n0 - populations)[:, None, None] * np.eye(3)[None] - 2.0 * z_flow
    return 0.5 * (eps + eps.T), born


def _bond_response(tb: TightBinding, bmat: np.ndarray, kfrac: np.ndarray, kcart: np.ndarray) -> np.ndarray:
    """Im Tr(B^a dH/du_ib) for every atom i, field direction a and displacement b: (natoms, 3, 3)."""
    natoms = len(tb.species)
    out = np.zeros((natoms, 3, 3))
    for g in tb.groups:
        phase = np.exp(2j * np.pi * (g.pairs.image @ kfrac))
        dt = block_derivatives(g.la, g.lb, g.pairs.d, g.radial)  # (nb, 3, na, nbo): dT/dd_b
        for b in range(3):
            p = (dt[:, b] + 1j * kcart[b] * g.blocks) * phase[:, None, None]  # d F_xy / d u_(j, b)
            for a in range(3):
                # Tr(B dH) = sum_xy [B_yx dF_xy + B_xy conj(dF_xy)] over this group's elements
                val = np.sum(bmat[a][g.cols, g.rows] * p + bmat[a][g.rows, g.cols] * np.conj(p), axis=(1, 2))
                np.add.at(out[:, a, b], g.pairs.j, val.imag)
                np.add.at(out[:, a, b], g.pairs.i, -val.imag)
    return out


def symmetry_images(lattice, frac, species, symprec: float):
    """(Cartesian rotations (nops, 3, 3), atom map (nops, natoms)) of the space group, from spglib."""
    import spglib

    lattice = np.asarray(lattice, float)
    kinds = {s: i + 1 for i, s in enumerate(dict.fromkeys(species))}
    sym = spglib.get_symmetry((lattice, frac, [kinds[s] for s in species]), symprec=symprec) or {}
    rotations, translations = sym.get("rotations", []), sym.get("translations", [])
    cart, maps = [], []
    inv = np.linalg.inv(lattice)
    for r, t in zip(rotations, translations, strict=True):
        image = frac @ np.asarray(r).T + t
        delta = image[:, None, :] - frac[None, :, :]
        delta -= np.round(delta)
        dist = np.linalg.norm(delta @ lattice, axis=2)
        target = np.argmin(dist, axis=1)
        if np.any(dist[np.arange(len(frac)), target] > 10 * symprec + 1e-6):
            continue
        cart.append(lattice.T @ np.asarray(r, float) @ inv.T)
        maps.append(target)
    return np.array(cart), np.array(maps)


def force_constants(forces_at, positions: np.ndarray, delta: float, symmetry=None) -> np.ndarray:
    """Phi_(ia),(jb) = -dF_jb/du_ia by central differences; symmetrised, acoustic sum rule imposed.

    forces_at(cartesian positions) -> (natoms, 3) forces.  With `symmetry` (from `symmetry_images`)
    only one atom per orbit is displaced and the other rows follow as Phi_g(i)g(j) = R Phi_ij R^T,
    as VASP's IBRION = 6 / 8 do.
    """
    natoms = len(positions)
    phi = np.zeros((natoms, 3, natoms, 3))
    done = np.zeros(natoms, bool)
    for i in range(natoms):
        if done[i]:
            continue
        for a in range(3):
            plus = positions.copy()
            plus[i, a] += delta
            minus = positions.copy()
            minus[i, a] -= delta
            phi[i, a] = -(forces_at(plus) - forces_at(minus)) / (2 * delta)
        done[i] = True
        if symmetry is None:
            continue
        for rot, target in zip(*symmetry, strict=True):
            g = target[i]
            if done[g]:
                continue
            block = np.einsum("ac,jcd,bd->jab", rot, phi[i].transpose(1, 0, 2), rot)  # (j, a, b)
            phi[g][:, target, :] = block.transpose(1, 0, 2)
            done[g] = True
    flat = phi.reshape(3 * natoms, 3 * natoms)
    flat = 0.5 * (flat + flat.T)
    phi = flat.reshape(natoms, 3, natoms, 3)
    for i in range(natoms):  # sum_j Phi_ij = 0: a rigid translation costs nothing
        phi[i, :, i, :] -= phi[i].sum(axis=1)
    return phi


def dynamical_matrix(phi: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """VASP's 'hessian' of vasprun.xml <dynmat>: -Phi / sqrt(m_i m_j), eV / A^2 / amu, (3N, 3N)."""
    natoms = len(masses)
    inv = 1.0 / np.sqrt(np.repeat(masses, 3))
    return -phi.reshape(3 * natoms, 3 * natoms) * inv[:, None] * inv[None, :]


def ionic_tensor(phi: np.ndarray, born: np.ndarray, volume: float) -> np.ndarray:
    """eps_ion from the force constants and Born charges, translations projected out."""
    natoms = len(born)
    flat = phi.reshape(3 * natoms, 3 * natoms)
    trans = np.zeros((3 * natoms, 3))
    for a in range(3):
        trans[a::3, a] = 1.0 / np.sqrt(natoms)
    proj = np.eye(3 * natoms) - trans @ trans.T
    w, v = np.linalg.eigh(proj @ flat @ proj)
    zflat = born.transpose(1, 0, 2).reshape(3, 3 * natoms)  # Z_(a),(ib)
    keep = np.abs(w) > 1e-6 * max(1.0, float(np.abs(w).max()))
    modes = zflat @ v[:, keep]  # (3, nmodes)
    eps = 4 * np.pi * COULOMB / volume * (modes / w[keep][None, :]) @ modes.T
    return 0.5 * (eps + eps.T)


def run_response(run, lattice, frac, result):
    """The response a run asks for (LEPSILON / LCALCEPS / IBRION 5-8), or None."""
    from mock_vasp.write_response import Response

    wants_eps = run.lepsilon or run.lcalceps
    phonons = run.ibrion in (5, 6, 7, 8)
    if not (wants_eps or phonons):
        return None
    resp = Response(lrpa=run.lrpa)
    lattice = np.asarray(lattice, float)
    if wants_eps:
        tb = result.extra["tb"]
        resp.eps_inf, resp.born = electronic_response(tb, result.bands, result.extra["filling"], lattice, run.model.n0)
    if phonons:
        kset = run.kplan.force or run.kplan.physics
        delta = run.potim if run.ibrion in (5, 6) and "POTIM" in run.incar else 0.015

        def forces_at(cart):
            frac_d = np.linalg.solve(lattice.T, cart.T).T
            return run.model.evaluate(lattice, frac_d, kset.kpts, kset.weights).forces

        symmetry = None
        if run.ibrion in (6, 8) and run.isym != 0:
            symmetry = symmetry_images(lattice, np.asarray(frac, float), run.atom_species, run.symprec)
        run.say(f" mock-vasp: force constants by +-{delta} A displacements on {len(kset)} k-points")
        resp.phi = force_constants(forces_at, np.asarray(frac, float) @ lattice, delta, symmetry)
        masses = np.array([run.potcars[run.poscar.species.index(s)].info.mass for s in run.atom_species])
        resp.hessian = dynamical_matrix(resp.phi, masses)
        if wants_eps:
            resp.eps_ion = ionic_tensor(resp.phi, resp.born, abs(np.linalg.det(lattice)))
    return resp
