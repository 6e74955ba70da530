"""``TaskData``: a task whose outputs are stored in a format or by a d6tflow target class;
where they live, how they are saved and loaded, and its metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from .. import settings
from ..errors import OutputKeyError, SaveError, TaskDefinitionError, TaskIncompleteError
from ..targets import DataTarget, Target, make_target
from .core import Task, _map_structure, above, root_of

__all__ = ["TaskData"]

_KEY = re.compile(r"[A-Za-z0-9_.=+-]+")


class _DefaultExt:
    """``TaskData.target_ext`` when no class sets it: computed from the class's format (see
    :func:`_default_ext`), so a base never restates the extension its format has. Only a
    default: a class or an instance that sets ``target_ext`` shadows it."""

    def __get__(self, obj: Any, cls: type[Any] | None = None) -> str:
        return _default_ext(cls if cls is not None else type(obj))


def _default_ext(cls: type[TaskData]) -> str:
    """The extension of the format named nearest in ``cls``'s MRO; ``"ext"`` (d6tflow's
    ``TaskData.target_ext``) for outputs made by a ``target_class`` with no format named.
    Found once per class (a class's format is part of its definition)."""
    ext = _default_exts.get(cls)
    if ext is None:
        named = next(c for c in cls.__mro__ if "format" in vars(c))  # TaskData at the latest
        ext = "ext" if named is TaskData and cls._by_target_class else _format_ext(cls.format)
        _default_exts[cls] = ext
    return ext


_default_exts: dict[type, str] = {}


class TaskData(Task):
    """A task whose outputs are stored in a format: one file (or in-memory value) per name in
    ``persist``.

    Class attributes
    ----------------
    persist : list of str
        Output names; the default ``['data']`` is a single output (``output()`` returns the
        target, ``save`` takes the object).
    format : str
        The :mod:`daskflow.formats` name outputs are stored in.
    target_class : type, optional
        d6tflow's way to say the same: a :class:`~daskflow.targets.DataTarget` subclass,
        made with the output's path. Of ``format`` and ``target_class``, the one set by the
        class nearest in the method resolution order wins.
    target_ext : str
        File extension. Unless a class sets it, it is the extension of the format named by
        the nearest class that names one (``TaskPickle.target_ext`` is ``"pkl"``, the
        ``pickle`` format's), or ``"ext"`` as in d6tflow for a ``target_class`` with no
        format named. Set on an instance, it applies to that instance.
    target_dir : str, optional
        Folder under the root (default: the task family).
    save_attrib : bool
        Put the task id in file names (default True; also ``settings.save_with_param``).
    task_group : str, optional
        An extra folder level ``group={task_group}`` under the root.
    """

    persist: ClassVar[list[str]] = ["data"]
    format: ClassVar[str] = "pickle"
    target_class: ClassVar[type[Target]] = DataTarget
    _by_target_class: ClassVar[bool] = False
    target_ext: ClassVar[str | None] = _DefaultExt()  # type: ignore[assignment]
    target_dir: ClassVar[str | None] = None
    save_attrib: ClassVar[bool] = True
    task_group: ClassVar[str | None] = None
    metadata: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the class nearest in the MRO that says how outputs are stored decides how
        decider = next(c for c in cls.__mro__ if "target_class" in vars(c) or "format" in vars(c))
        cls._by_target_class = decider is not TaskData and "target_class" in vars(decider)
        if cls._by_target_class and not (
            isinstance(cls.target_class, type) and issubclass(cls.target_class, Target)
        ):
            raise TaskDefinitionError(
                f"{cls.__name__}.target_class must be a daskflow.targets.DataTarget "
                f"subclass, got {cls.target_class!r}"
            )
        if "persists" in cls.__dict__:  # d6tflow accepted this spelling too
            cls.persist = cls.__dict__["persists"]
        persist = cls.persist
        if isinstance(persist, str) or not all(isinstance(k, str) for k in persist):
            raise TaskDefinitionError(
                f"{cls.__name__}.persist must be a list of output names, got {persist!r}"
            )
        bad = [k for k in persist if not _KEY.fullmatch(k)]
        if bad or len(set(persist)) != len(persist):
            raise TaskDefinitionError(
                f"{cls.__name__}.persist names must be unique and use only letters, digits "
                f"and _ . = + -; got {list(persist)!r}"
            )

    # -- where outputs live -----------------------------------------------------------------

    def _root(self) -> str:
        return root_of(self.__dict__.get("path"), type(self))

    def output_folder(self) -> str:
        return self._folder()

    def _folder(self, root: str | None = None) -> str:
        parts = [root or self._root()]
        if self.task_group:
            parts.append(f"group={self.task_group}")
        parts.append(self.target_dir or self.task_family)
        return "/".join(parts)

    def _storage_options(self) -> dict[str, Any]:
        return {**settings.current("storage_options"), **(self.storage_options or {})}

    def _file_name(self, key: str, ext: str) -> str:
        if settings.current("save_with_param") and self.save_attrib:
            return f"{self.task_id}-{key}.{ext}"
        return f"{key}.{ext}"

    def output(self) -> Any:
        """The target of the single output, or ``{name: target}`` for several.

        Resolved once per instance and kept while what decides it (the root, the settings
        and attributes that shape names) stays the same: a run asks for a task's outputs
        many times (status, run, loads downstream), and on 100,000 tasks that adds up.
        """
        own = self.__dict__
        root = self._root()
        with_param = settings.current("save_with_param")
        options = settings.current("storage_options")
        where = (  # everything that decides the locations, besides the class
            root,
            with_param,
            _frozen(options),
            own.get("target_dir"),
            own.get("target_ext"),
            own.get("save_attrib"),
            own.get("task_group"),
            _frozen(own.get("storage_options")),
            tuple(own.get("persist") or ()),
        )
        kept = own.get("_outputs")
        if kept is not None and kept[0] == where:
            return kept[1]
        targets = self._targets(self.persist, root, with_param, options)
        out = targets["data"] if list(self.persist) == ["data"] else targets
        own["_outputs"] = (where, out)
        return out

    def _target(self, key: str) -> Target:
        """The target an output named ``key`` has, under the current settings."""
        with_param = settings.current("save_with_param")
        options = settings.current("storage_options")
        return self._targets([key], self._root(), with_param, options)[key]

    def _targets(
        self, keys: list[str], root: str, with_param: bool, options: Mapping[str, Any]
    ) -> dict[str, Target]:
        folder = self._folder(root)
        ext = self.target_ext or _default_ext(type(self))  # a class may set None
        named = with_param and self.save_attrib
        options = {**options, **(self.storage_options or {})}
        targets: dict[str, Target] = {}
        for key in keys:
            url = f"{folder}/{self.task_id}-{key}.{ext}" if named else f"{folder}/{key}.{ext}"
            if self._by_target_class:
                targets[key] = target = self.target_class(url)
                target.storage_options = options
            else:
                targets[key] = make_target(url, self.format, options)
        return targets

    def _meta_target(self) -> Target:
        url = f"{self._folder()}/{self._file_name('meta', 'pickle')}"
        return Target(url, "pickle", self._storage_options())

    def side_targets(self) -> list[Target]:
        return [self._meta_target()]

    # -- saving and loading -----------------------------------------------------------------

    def save(self, data: Any, **kwargs: Any) -> None:
        """Store the outputs: the object for a single output, a dict ``{name: object}`` with
        exactly the ``persist`` names for several. Extra arguments go to the format."""
        out = self.output()
        if isinstance(out, Target):
            out.save(data, **kwargs)
            return
        if not isinstance(data, Mapping) or set(data) != set(out):
            got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise SaveError(
                f"{self!r}.save() needs a dict with exactly the persist keys {list(out)}, got {got}"
            )
        for key, target in out.items():
            target.save(data[key], **kwargs)

    def _load_own(self, keys: Any, as_dict: bool, cached: bool) -> Any:
        out = self.output()
        if isinstance(out, Target):
            return _load(out, cached)
        wanted = list(out) if keys is None else [keys] if isinstance(keys, str) else list(keys)
        missing = [k for k in wanted if k not in out]
        if missing:
            raise OutputKeyError(
                f"Key name does not match: {self!r} has outputs {list(out)}, asked for {missing}"
            )
        loaded = {k: _load(out[k], cached) for k in wanted}
        if as_dict:
            return loaded
        return loaded[keys] if isinstance(keys, str) else list(loaded.values())

    def outputLoad(self, keys: Any = None, as_dict: bool = False, cached: bool = False) -> Any:
        """Load this task's outputs.

        A single output gives the object. Several give a list in ``persist`` order, a dict
        with ``as_dict=True``, one object for ``keys='name'`` or a list for
        ``keys=['a', 'b']``. Raises if the task is not complete.
        """
        self._check_keys(keys)
        return super().outputLoad(keys, as_dict, cached)

    def _check_keys(self, keys: Any) -> None:
        """A single output is called 'data'; asking it for another key is a mistake."""
        if keys is not None and list(self.persist) == ["data"]:
            wanted = [keys] if isinstance(keys, str) else list(keys)
            if wanted != ["data"]:
                raise OutputKeyError(
                    f"Key name does not match: {self!r} has one output ('data'), asked for {keys!r}"
                )

    # -- metadata ---------------------------------------------------------------------------

    def metaSave(self, data: Any) -> None:
        """Store a small object beside the outputs (``{task_id}-meta.pickle``)."""
        self.metadata = data
        self._meta_target().save(data)

    saveMeta = metaSave  # d6tflow's other spelling

    def metaLoad(self) -> Any:
        """The metadata of the required tasks, in the shape of ``requires()``."""
        return _map_structure(lambda t: t._meta_target().load(), self._requires())

    def outputLoadMeta(self) -> Any:
        """This task's own metadata."""
        if not self.complete(cascade=False):
            raise TaskIncompleteError(f"Cannot load {self!r} metadata, task not complete")
        target = self._meta_target()
        if not target.exists():
            raise TaskIncompleteError(f"{self!r} saved no metadata (call metaSave in run())")
        return target.load()

    def outputLoadAllMeta(self) -> dict[str, Any]:
        """``{task_family: metadata}`` of this task and its complete upstream tasks."""
        result = {}
        for t in above.need("closure")(self):
            if isinstance(t, TaskData) and t._meta_target().exists():
                result[t.task_family] = t._meta_target().load()
        return result

    def reset(self, confirm: bool = False) -> bool:
        """Delete this task's outputs and metadata; with ``confirm=True`` ask first."""
        if not super().reset(confirm):
            return False
        self._meta_target().remove()
        return True

    invalidate = reset


def _frozen(options: Mapping[str, Any] | None) -> Any:
    """Storage options as a value to compare (they are small dicts, mostly empty)."""
    return repr(sorted(options.items())) if options else ()


def _load(target: Target, cached: bool) -> Any:
    """``target.load()``, with ``cached`` only when asked: a d6tflow target class may
    define ``load(self)`` without it."""
    return target.load(cached=True) if cached else target.load()


def _format_ext(name: Any) -> str:
    from ..formats import get_format

    return get_format(name).ext
