"""Code systems shared by the simulator and the standardizer.

Pure, dependency-free: identifier checksums (GB 11643 citizen ID, GB 32100 credit code),
the ICD-10 code shape, and the packaged catalogues (``data/*.csv``) that coded fields are
looked up in.
"""
