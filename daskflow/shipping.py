"""What travels to a worker besides the task itself: a task cloudpickled for a worker that
cannot import its class (:class:`Shipped`), and the stand-in for in-memory values that could
not be pickled (:class:`Unsendable`)."""

from __future__ import annotations

import io
import pickle

from .tasks import Task

__all__ = ["Shipped", "Unsendable"]


class Shipped:
    """A task cloudpickled by the caller: its class reaches workers that cannot import it (a
    script, a notebook, a module registered with ``cloudpickle.register_pickle_by_value``),
    where Dask's own serializer would pickle nested objects by reference.

    The class travels apart from the task, as one blob that every task of the family in a
    graph shares (``classes``: the blobs made so far, by class), so a family of 10,000 tasks
    defined in a script carries its class once, not 10,000 times, and each worker process
    rebuilds it once.
    """

    def __init__(self, task: Task, classes: dict[type, bytes] | None = None) -> None:
        import cloudpickle

        cls = type(task)
        classes = {} if classes is None else classes
        if cls not in classes:
            classes[cls] = cloudpickle.dumps(cls)
        self.cls: bytes = classes[cls]
        buffer = io.BytesIO()
        pickler = cloudpickle.Pickler(buffer)
        pickler.persistent_id = lambda obj: 0 if obj is cls else None
        pickler.dump(task)
        self.blob: bytes = buffer.getvalue()
        self.task_id = task.task_id

    def load(self) -> Task:
        cls = _classes.get(self.cls)
        if cls is None:
            import cloudpickle

            cls = _classes[self.cls] = cloudpickle.loads(self.cls)
        unpickler = pickle.Unpickler(io.BytesIO(self.blob))
        unpickler.persistent_load = lambda pid: cls  # type: ignore[method-assign]
        return unpickler.load()  # type: ignore[no-any-return]


_classes: dict[bytes, type] = {}  # a worker's classes rebuilt from Shipped blobs, by blob


class Unsendable:
    """Stands for the in-memory values of complete upstream tasks that could not be pickled
    for another process: the node that needed them fails, naming the task that made them."""

    def __init__(self, message: str) -> None:
        self.message = message
