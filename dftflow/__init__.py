"""dftflow: WO3 defect workflows (PBEsol relax -> hybrid static) on FireWorks + custodian."""

__version__ = "0.1.0"
