"""mock_vasp: a stand-alone VASP stand-in driven by a tight-binding model (model output, not DFT)."""

__version__ = "0.1.0"
