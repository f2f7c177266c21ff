"""Where the bundled test sets and the MES profile set live, installed or in a source checkout."""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """Return the bundled folder `name` ("testsets" or "profiles").

    In a wheel the folders sit inside the package (see pyproject's force-include); in a source
    checkout or an editable install they sit beside it.
    """
    inside = _PACKAGE_DIR / name
    return inside if inside.is_dir() else _PACKAGE_DIR.parent / name
