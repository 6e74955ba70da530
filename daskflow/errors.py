"""The exceptions daskflow raises.

Every error a user can cause derives from :class:`DaskflowError`, so one ``except`` catches
them all; each also derives from the builtin a Python user would expect (``TypeError`` for a
wrong type, ``ValueError`` for a bad value, ...), so code written against d6tflow that caught
those keeps working::

    DaskflowError
    ├── TaskDefinitionError (TypeError)        a task class or requires() is malformed
    │   └── DependencyCycleError (ValueError)  requires() loops back on itself
    ├── ParameterError (ValueError)            a parameter value is missing or does not parse
    │   └── MissingParameterError              a required parameter was not given
    ├── WorkflowError (ValueError)             Workflow/WorkflowMulti given the wrong thing
    │   └── NoDefaultTaskError (RuntimeError)  a flow without a task was asked to use one
    ├── TaskError (RuntimeError)               a task failed in a way its own exception cannot
    │                                          tell (it could not be sent back, no output saved)
    ├── ClusterError (ConnectionError)         a Dask scheduler could not be reached
    ├── SettingsError (TypeError, ValueError)  a setting given something it cannot use
    ├── UsageError (ValueError)                a mistake on the command line (exit status 2)
    ├── OutputError                            reading or writing a task's output
    │   ├── OutputNotFoundError (FileNotFoundError)  loading an output that does not exist
    │   ├── TaskIncompleteError (RuntimeError) loading the outputs of a task that is not complete
    │   ├── OutputKeyError (KeyError, IndexError)  asking for an output key the task lacks
    │   ├── SaveError (ValueError)             save() called with data that does not fit
    │   └── StorageError (OSError)             the storage could not be reached or refused
    └── FormatError (LookupError)              an unknown or unavailable output format

Warnings: :class:`CompatibilityWarning` (a ``UserWarning``) marks what d6tflow accepted and
daskflow accepts too, though it is probably a mistake (a ``run()`` that saved nothing, a
parameter name no task declares, a class default that does not parse). With
``settings.strict = True`` each of these is an error instead.

A failed *run* raises ``RuntimeError('Exception found running flow, check trace')`` with the
task's own exception as ``__cause__``, exactly the type d6tflow raised; see
:mod:`daskflow.execute`.
"""

from __future__ import annotations

import re

__all__ = [
    "ClusterError",
    "CompatibilityWarning",
    "DaskflowError",
    "DependencyCycleError",
    "FormatError",
    "MissingParameterError",
    "NoDefaultTaskError",
    "OutputError",
    "OutputKeyError",
    "OutputNotFoundError",
    "ParameterError",
    "SaveError",
    "SettingsError",
    "StorageError",
    "TaskDefinitionError",
    "TaskError",
    "TaskIncompleteError",
    "UsageError",
    "WorkflowError",
    "mask",
    "masked",
]


class DaskflowError(Exception):
    """Base class of every error daskflow raises on purpose."""


class TaskDefinitionError(DaskflowError, TypeError):
    """A task class, its ``persist`` or its ``requires()`` is not what daskflow expects."""


class DependencyCycleError(TaskDefinitionError, ValueError):
    """``requires()`` leads back to a task already on the path; ``cycle`` lists the ids."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle: " + " -> ".join(cycle))


class ParameterError(DaskflowError, ValueError):
    """A parameter value does not parse or is outside what the parameter accepts."""


class MissingParameterError(ParameterError):
    """A parameter without a default was not given."""


class WorkflowError(DaskflowError, ValueError):
    """``Workflow``/``WorkflowMulti`` or a run option was given something it cannot use."""


class NoDefaultTaskError(WorkflowError, RuntimeError):
    """A flow made without a task class was asked to run, preview or load one; pass the task
    class to the method or ``set_default()`` one (d6tflow raised RuntimeError)."""


class TaskError(DaskflowError, RuntimeError):
    """A task failed and its own exception cannot say so: it could not be pickled back from
    a worker, or ``run()`` finished without saving its outputs."""


class ClusterError(DaskflowError, ConnectionError):
    """The Dask scheduler at an address could not be reached in time."""


class SettingsError(DaskflowError, TypeError, ValueError):
    """A setting was given something it cannot use."""


class UsageError(DaskflowError, ValueError):
    """A mistake on the command line: reported in one line, exit status 2."""


class OutputError(DaskflowError):
    """Base class for errors reading, writing or removing a task's output."""


class OutputNotFoundError(OutputError, FileNotFoundError):
    """An output that does not exist was loaded."""


class TaskIncompleteError(OutputError, RuntimeError):
    """The outputs of a task that is not complete were asked for (d6tflow: RuntimeError)."""


class OutputKeyError(OutputError, KeyError, IndexError):
    """An output key that is not in the task's ``persist`` (d6tflow raised IndexError)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class SaveError(OutputError, ValueError):
    """``save()`` was called with data that does not match the task's outputs."""


_CREDENTIALS = re.compile(
    r"(\w[\w+.-]*://)(?:[^\s/@]+|[^\s/@:]*:[^\s@]*)@"  # scheme://user:pass@ (pass may hold /)
    r"|()[^\s/@:\"'(]+:(?!//)[^\s@\"']+@"  # a bare key:secret@bucket (not scheme://)
)
"""A user and password (or key and secret) written into a URL, with its scheme or as a bare
``key:secret@bucket`` (as a storage library quotes a bucket name): never shown in a message."""


def mask(text: str) -> str:
    """``text`` with every user and password (key and secret, token) written into a URL
    masked, whatever characters the secret holds: the one mask of every message.

    >>> mask("s3://AKIA:wJal/rXU+tn@bucket/x and tcp://user:pw@10.0.0.5:8786")
    's3://***@bucket/x and tcp://***@10.0.0.5:8786'
    >>> mask("s3://bucket/a@b.csv"), mask("key:se/cret@bucket")
    ('s3://bucket/a@b.csv', '***@bucket')
    """
    return _CREDENTIALS.sub(r"\1***@", text)


def masked(error: BaseException) -> BaseException:
    """``error``, or if its text (or that of an exception it was raised from) quotes a URL
    with credentials in it, a stand-in whose text has them masked: raise a
    :class:`StorageError` ``from masked(e)`` so a traceback never shows a secret.

    >>> e = masked(ValueError("bad bucket s3://KEY:SECRET@b"))
    >>> type(e).__name__, str(e)
    ('MaskedError', 'ValueError: bad bucket s3://***@b')
    >>> e = ValueError("plain"); masked(e) is e
    True
    """
    cause = masked(error.__cause__) if error.__cause__ is not None else None
    context = masked(error.__context__) if error.__context__ is not None else None
    text = str(error)
    clean = mask(text)
    if clean == text and cause is error.__cause__ and context is error.__context__:
        return error
    stand_in = MaskedError(f"{type(error).__qualname__}: {clean}")
    stand_in.__traceback__ = error.__traceback__
    stand_in.__cause__, stand_in.__context__ = cause, context
    stand_in.__suppress_context__ = error.__suppress_context__
    return stand_in


class MaskedError(DaskflowError):
    """Stands for an exception whose text quoted credentials (see :func:`masked`)."""


class StorageError(OutputError, OSError):
    """The storage behind an output could not be reached, or refused the request.

    ``url`` is the location concerned (a folder or an output), when known. Credentials
    written into a URL are masked wherever the message quotes one, the text of the storage
    library's own error included:

    >>> str(StorageError('cannot read s3://KEY:SECRET@b/x.pkl (http://u:p@h:9): bad "K:S@b"'))
    'cannot read s3://***@b/x.pkl (http://***@h:9): bad "***@b"'
    """

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(mask(message))
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0])


class FormatError(DaskflowError, LookupError):
    """An output format is unknown, or the library it needs is not installed."""


class CompatibilityWarning(UserWarning):
    """Something d6tflow accepted and daskflow accepts too, though it is probably a mistake;
    ``settings.strict = True`` makes it an error."""
