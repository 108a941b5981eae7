"""Fuzz campaign for ltv's parsers and verifier (``make fuzz``; see fuzz/README.md).

Engine-agnostic targets live in :mod:`fuzz.targets`; :mod:`fuzz.run` drives them with atheris
(coverage-guided libFuzzer, when installed: ``pip install -c constraints.txt '.[fuzz]'``) or
with a plain seeded random mutator.
"""
