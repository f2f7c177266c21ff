"""pytest-mes: conformance tests of FHIR servers against Mon Espace Santé / CI-SIS (GAP, PDSm, FR Core)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
