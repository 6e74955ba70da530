"""daskflow: d6tflow-style pipelines compiled to one Dask graph.

``import daskflow as d6tflow`` keeps d6tflow code working. Nothing runs at import.
"""

import sys as _sys

from . import errors as errors
from . import formats as formats
from . import parameters as parameters
from . import settings as settings
from . import targets as targets
from . import tasks as tasks
from .compat import cache as cache
from .compat import clone_parent as clone_parent
from .compat import dict_inherits as dict_inherits
from .compat import dict_requires as dict_requires
from .compat import dotdict as dotdict
from .compat import enable_cloud_storage as enable_cloud_storage
from .compat import enable_gcs as enable_gcs
from .compat import flatten as flatten
from .compat import functional as functional
from .compat import invalidate_all as invalidate_all
from .compat import invalidate_orphans as invalidate_orphans
from .compat import luigi_inherits as luigi_inherits
from .compat import luigi_requires as luigi_requires
from .compat import utils as utils
from .compat.export import FlowExport as FlowExport
from .compat.export import FlowImport as FlowImport
from .execute import RunResult as RunResult
from .parameters import BoolParameter as BoolParameter
from .parameters import ChoiceParameter as ChoiceParameter
from .parameters import DateHourParameter as DateHourParameter
from .parameters import DateIntervalParameter as DateIntervalParameter
from .parameters import DateMinuteParameter as DateMinuteParameter
from .parameters import DateParameter as DateParameter
from .parameters import DateSecondParameter as DateSecondParameter
from .parameters import DictParameter as DictParameter
from .parameters import EnumParameter as EnumParameter
from .parameters import FloatParameter as FloatParameter
from .parameters import IntParameter as IntParameter
from .parameters import ListParameter as ListParameter
from .parameters import MonthParameter as MonthParameter
from .parameters import NumericalParameter as NumericalParameter
from .parameters import OptionalParameter as OptionalParameter
from .parameters import Parameter as Parameter
from .parameters import TaskParameter as TaskParameter
from .parameters import TimeDeltaParameter as TimeDeltaParameter
from .parameters import TupleParameter as TupleParameter
from .parameters import YearParameter as YearParameter
from .settings import set_dir as set_dir
from .targets import data as data
from .tasks import inherits as inherits
from .tasks import requires as requires
from .workflow import Workflow as Workflow
from .workflow import WorkflowMulti as WorkflowMulti
from .workflow import invalidate_downstream as invalidate_downstream
from .workflow import invalidate_upstream as invalidate_upstream
from .workflow import preview as preview
from .workflow import run as run
from .workflow import show as show
from .workflow import taskflow_downstream as taskflow_downstream
from .workflow import taskflow_upstream as taskflow_upstream

__version__ = "0.1.0"

# d6tflow's modules by their d6tflow names: `import daskflow.utils` as `import d6tflow.utils`
_sys.modules.setdefault(f"{__name__}.utils", utils)
_sys.modules.setdefault(f"{__name__}.cache", cache)
# ... and where they were before they moved into compat
_sys.modules.setdefault(f"{__name__}.functional", functional)
_sys.modules.setdefault(f"{__name__}.export", _sys.modules[f"{__name__}.compat.export"])

__all__ = [
    "BoolParameter",
    "ChoiceParameter",
    "DateHourParameter",
    "DateIntervalParameter",
    "DateMinuteParameter",
    "DateParameter",
    "DateSecondParameter",
    "DictParameter",
    "EnumParameter",
    "FloatParameter",
    "FlowExport",
    "FlowImport",
    "IntParameter",
    "ListParameter",
    "MonthParameter",
    "NumericalParameter",
    "OptionalParameter",
    "Parameter",
    "RunResult",
    "TaskParameter",
    "TimeDeltaParameter",
    "TupleParameter",
    "Workflow",
    "WorkflowMulti",
    "YearParameter",
    "cache",
    "clone_parent",
    "data",
    "dict_inherits",
    "dict_requires",
    "dotdict",
    "enable_cloud_storage",
    "enable_gcs",
    "errors",
    "flatten",
    "formats",
    "functional",
    "inherits",
    "invalidate_all",
    "invalidate_downstream",
    "invalidate_orphans",
    "invalidate_upstream",
    "luigi_inherits",
    "luigi_requires",
    "parameters",
    "preview",
    "requires",
    "run",
    "set_dir",
    "settings",
    "show",
    "targets",
    "taskflow_downstream",
    "taskflow_upstream",
    "tasks",
    "utils",
]
