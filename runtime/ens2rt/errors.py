"""The exceptions ens2rt raises: one base class to catch, specific subclasses to read."""


class Ens2Error(Exception):
    """Base class of every error ens2rt raises on purpose."""


class InputError(Ens2Error, ValueError):
    """The traces, frame rate or settings given to ens2rt are unusable."""


class OutputError(Ens2Error):
    """A result could not be written (full disk, quota, permission …); nothing was left behind."""


class ModelError(Ens2Error):
    """A model file or its card is missing, corrupt or incompatible."""


class InputWarning(UserWarning):
    """The input was usable but something about it changes the result (recorded in ``settings["warnings"]``)."""
