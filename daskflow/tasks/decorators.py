"""Parameter inheritance: the class decorators ``@inherits`` and ``@requires``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import TaskDefinitionError
from .core import Task, _collect_params

__all__ = ["inherits", "requires"]


def _check_classes(where: str, parents: Mapping[str, Any] | list[Any]) -> None:
    items = parents.values() if isinstance(parents, Mapping) else parents
    for c in items:
        if not (isinstance(c, type) and issubclass(c, Task)):
            hint = f"; pass the class {type(c).__name__}" if isinstance(c, Task) else ""
            raise TaskDefinitionError(f"@{where} expects task classes, got {c!r}{hint}")


def _parents(where: str, args: tuple[Any, ...], named: dict[str, Any]) -> Any:
    if len(args) == 1 and isinstance(args[0], Mapping) and not named:
        parents: Any = dict(args[0])
    elif named and not args:
        parents = named
    elif args and not named:
        parents = list(args)
    else:
        raise TaskDefinitionError(
            f"@{where} takes task classes, or one dict of them, e.g. @{where}(TaskA, TaskB) or "
            f"@{where}({{'a': TaskA}})"
        )
    _check_classes(where, parents)
    return parents


def inherits(*tasks: Any, **named: type[Task]) -> Any:
    """Class decorator: give the class every parameter of ``tasks`` it does not declare.

    ``@inherits(TaskA, TaskB)`` or ``@inherits({'a': TaskA, 'b': TaskB})``.
    ``clone_parent()``/``clone_parents()`` then make the parent tasks.
    """
    parents = _parents("inherits", tasks, named)

    def decorate(cls: type[Task]) -> type[Task]:
        own = set(cls._params)
        classes = parents.values() if isinstance(parents, Mapping) else parents
        for parent in classes:
            for name, param in parent._params.items():
                if name not in own:
                    setattr(cls, name, param)
                    own.add(name)
        cls._inherits_from = parents  # type: ignore[attr-defined]
        _collect_params(cls)
        return cls

    return decorate


def requires(*tasks: Any, **named: type[Task]) -> Any:
    """Class decorator: inherit the parameters of ``tasks`` and require them.

    ``@requires(TaskA)`` makes ``requires()`` return ``self.clone(TaskA)``;
    ``@requires(TaskA, TaskB)`` a list; ``@requires({'a': TaskA})`` a dict.
    """
    parents = _parents("requires", tasks, named)

    def decorate(cls: type[Task]) -> type[Task]:
        cls = inherits(parents)(cls) if isinstance(parents, Mapping) else inherits(*parents)(cls)

        def requires(self: Task) -> Any:
            if isinstance(parents, Mapping):
                return {k: self.clone(c) for k, c in parents.items()}
            if len(parents) == 1:
                return self.clone(parents[0])
            return [self.clone(c) for c in parents]

        requires.__qualname__ = f"{cls.__qualname__}.requires"
        cls.requires = requires  # type: ignore[method-assign]
        return cls

    return decorate
