"""Exceptions raised by xscale, each naming what was wrong and what was expected."""


class XscaleError(Exception):
    """Base class of every error xscale raises on purpose."""


class DataIntegrityError(XscaleError):
    """A data file is missing, or its sha256 or size differs from ``data_manifest.json``."""


class DataFormatError(XscaleError, ValueError):
    """A data file's content is not what its loader expects (file, field, expectation)."""


class PluginNotFoundError(XscaleError, LookupError):
    """No installed plugin has the requested name in the requested entry-point group."""


class IncompatibleModelError(XscaleError, ValueError):
    """A backend cannot fit the requested encoder / prior / decoder combination."""


class ConfigError(XscaleError, ValueError):
    """A configuration key or value is unknown or invalid."""
