"""Tasks: typed parameters, identity, ``requires()``, outputs, ``complete()`` and ``run()``.

A task class declares parameters as class attributes, says what it needs in ``requires()``,
what it makes in ``run()``, and how its outputs are stored by the base it derives from::

    class TaskTrain(daskflow.tasks.TaskPickle):
        do_preprocess = daskflow.BoolParameter(default=True)

        def requires(self):
            return TaskPreprocess(do_preprocess=self.do_preprocess)

        def run(self):
            df = self.inputLoad()
            self.save(train(df))

Invariants
----------
- A task instance is a value: its class plus its normalized parameters. Parameters are set
  once in ``__init__``; two instances with equal parameters are equal and have the same
  ``task_id``. There is no instance cache and no registry of classes: creating ``A(x=1)`` twice
  gives two equal objects, and nothing one instance is given leaks into another.
- ``task_id`` is luigi's: ``{family}_{param summary}_{md5(canonical JSON)[:10]}``, so outputs
  written by d6tflow are found here and the reverse. It is also the task's Dask key.
- Outputs live at ``{root}/{target_dir or family}/{task_id}-{key}.{ext}``; ``root`` is the
  instance's ``path`` (given to it or inherited from the task that required it, e.g. from a
  ``Workflow``), else the class's ``path``, else ``settings.dirpath``.
- ``path``, ``flows`` and ``storage_options`` given to a task flow down to the tasks its
  ``requires()`` returns (unless those set their own), as d6tflow's ``Workflow`` did by
  mutating shared instances -- here without touching any other instance.

This package never imports dask: a task is plain Python, picklable to any worker.

Modules
    :mod:`.ids` (luigi's task id), :mod:`.core` (:class:`Task`, :class:`TaskAggregator`),
    :mod:`.data` (:class:`TaskData`), :mod:`.bases` (d6tflow's task bases),
    :mod:`.decorators` (``@inherits``, ``@requires``). This package re-exports their names.
"""

from __future__ import annotations

from .bases import TaskCache as TaskCache
from .bases import TaskCachePandas as TaskCachePandas
from .bases import TaskCSVDask as TaskCSVDask
from .bases import TaskCSVGZPandas as TaskCSVGZPandas
from .bases import TaskCSVPandas as TaskCSVPandas
from .bases import TaskExcelPandas as TaskExcelPandas
from .bases import TaskJson as TaskJson
from .bases import TaskPickle as TaskPickle
from .bases import TaskPqDask as TaskPqDask
from .bases import TaskPqPandas as TaskPqPandas
from .core import CONTEXT_ATTRS as CONTEXT_ATTRS
from .core import Task as Task
from .core import TaskAggregator as TaskAggregator
from .core import _confirm as _confirm
from .core import _map_structure as _map_structure
from .core import flatten as flatten
from .core import root_of as root_of
from .data import TaskData as TaskData
from .decorators import inherits as inherits
from .decorators import requires as requires
from .ids import TASK_ID_INCLUDE_PARAMS as TASK_ID_INCLUDE_PARAMS
from .ids import TASK_ID_TRUNCATE_HASH as TASK_ID_TRUNCATE_HASH
from .ids import TASK_ID_TRUNCATE_PARAMS as TASK_ID_TRUNCATE_PARAMS
from .ids import task_id_str as task_id_str

__all__ = [
    "Task",
    "TaskAggregator",
    "TaskCSVDask",
    "TaskCSVGZPandas",
    "TaskCSVPandas",
    "TaskCache",
    "TaskCachePandas",
    "TaskData",
    "TaskExcelPandas",
    "TaskJson",
    "TaskPickle",
    "TaskPqDask",
    "TaskPqPandas",
    "flatten",
    "inherits",
    "requires",
    "root_of",
    "task_id_str",
]
