"""Platform name -> its collector.

Each platform's module `archiver.collectors.<platform>` exposes `COLLECTOR`, an object
implementing `archiver.collectors.protocol.Collector`. Modules are imported on first use,
so a broken or missing platform module fails only the accounts of that platform.
`register` adds a collector that lives elsewhere (a plugin, a test's fake platform).
"""

from __future__ import annotations

import importlib
import importlib.util
import re

from archiver.collectors.protocol import Collector
from archiver.errors import ConfigError

BUILT_IN = ("mastodon", "bluesky", "x", "facebook", "instagram", "youtube", "threads",
            "linkedin", "tiktok")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_extra: dict[str, Collector] = {}


def register(collector: Collector) -> None:
    """Make `collector` the one for its `platform` (overrides a built-in module)."""
    name = getattr(collector, "platform", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"a collector must name its platform, got {name!r}")
    _extra[name] = collector


def unregister(platform: str) -> None:
    _extra.pop(platform, None)


def known_platforms() -> set[str]:
    """The platforms accounts may be registered for: built-ins plus registered ones."""
    return set(BUILT_IN) | set(_extra)


def get_collector(platform: str) -> Collector:
    """The collector of `platform`; ConfigError when there is none or it is not one."""
    if platform in _extra:
        return _extra[platform]
    if not _NAME.fullmatch(platform):
        raise ConfigError(f"no collector for platform {platform!r}")
    module_name = f"archiver.collectors.{platform}"
    if importlib.util.find_spec(module_name) is None:
        raise ConfigError(f"no collector for platform {platform!r} "
                          f"({module_name} is not installed)")
    module = importlib.import_module(module_name)
    collector = getattr(module, "COLLECTOR", None)
    if collector is None or not callable(getattr(collector, "harvest", None)) \
            or not callable(getattr(collector, "lookup", None)):
        raise ConfigError(f"{module_name}.COLLECTOR is missing or does not implement "
                          f"harvest() and lookup()")
    if getattr(collector, "platform", platform) != platform:
        raise ConfigError(f"{module_name}.COLLECTOR says it is for "
                          f"{collector.platform!r}, not {platform!r}")
    return collector
