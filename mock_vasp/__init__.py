"""mock_vasp: a stand-alone VASP stand-in driven by a tight-binding model (model output, not DFT)."""

__version__ = "0.1.0"

# Every output says that a model wrote it; dftflow detects the executor by the substring "mock-vasp".
MARK = "mock-vasp"
MARK_BANNER = f"{MARK} {__version__}: MODEL OUTPUT - NOT A DFT CALCULATION"
VASP_VERSION = "6.4.3"
MARK_SUBVERSION = f"tight-binding stand-in {MARK} {__version__} (model output, not DFT)"
