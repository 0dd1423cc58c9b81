"""The version gate: the supported ranges are the package's own requirements (setup.cfg).

They are read from the installed distribution's metadata, so setup.cfg is the one place that
declares them. Checked once, when Ultralytics is first imported.
"""

from __future__ import annotations

DISTRIBUTION = "yolo-clearml-patch"
REQUIRED = ("ultralytics", "clearml", "wrapt")


def supported_ranges() -> dict[str, str]:
    """``{package: specifier}`` for each runtime requirement, e.g. ``{"wrapt": ">=1.14,<3"}``."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    ranges = {}
    for line in requires(DISTRIBUTION) or []:
        req = Requirement(line)
        if req.name.lower() in REQUIRED and (req.marker is None or req.marker.evaluate({"extra": ""})):
            ranges[req.name.lower()] = str(req.specifier)
    return ranges


def installed_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def in_range(version: str, spec: str) -> bool:
    """Whether ``version`` satisfies the specifier ``spec`` (pre-releases included)."""
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(spec).contains(version, prereleases=True)


def check() -> tuple[list[str], list[str]]:
    """``(missing, out_of_range)``: messages for required packages not installed or not supported."""
    missing, out_of_range = [], []
    for name, spec in supported_ranges().items():
        found = installed_version(name)
        if found is None:
            missing.append(f"{name} is not installed")
        elif not in_range(found, spec):
            out_of_range.append(f"{name} {found} is outside the supported range {spec}")
    return missing, out_of_range


def patching_allowed() -> bool:
    """Whether to patch in this process; says why not in one warning."""
    from importlib.metadata import PackageNotFoundError

    from . import settings
    from .log import logger

    try:
        missing, out_of_range = check()
    except PackageNotFoundError:  # running from a source tree: no installed metadata to check
        return True
    if missing:
        logger().warning(f"{'; '.join(missing)}: training runs without ClearML reporting")
        return False
    if out_of_range:
        if settings.force():
            logger().warning(f"{'; '.join(out_of_range)}; patching anyway ({settings.FORCE_VAR}=1)")
            return True
        logger().warning(f"{'; '.join(out_of_range)}: the shim is off (set {settings.FORCE_VAR}=1 to patch anyway)")
        return False
    return True
