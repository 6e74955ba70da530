"""daskflow: d6tflow-style pipelines compiled to one Dask graph.

``import daskflow as d6tflow`` keeps d6tflow code working. Nothing runs at import.
"""

from . import errors as errors
from . import formats as formats
from . import functional as functional
from . import parameters as parameters
from . import settings as settings
from . import targets as targets
from . import tasks as tasks
from .execute import RunResult as RunResult
from .export import FlowExport as FlowExport
from .export import FlowImport as FlowImport
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
    "data",
    "errors",
    "formats",
    "functional",
    "inherits",
    "invalidate_downstream",
    "invalidate_upstream",
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
]
