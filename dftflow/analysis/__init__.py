"""Analysis of stored runs: band edges and gaps, defect levels, site and formation energies.

Everything works on RunData (a task document + its arrays), whether it comes from the results
database or straight from a VASP directory, so real VASP outputs and mock-vasp studies go through
the same code.
"""
