"""luigi's task id, byte for byte: ``{family}_{param summary}_{md5(canonical JSON)[:10]}``."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

__all__ = ["task_id_str"]

TASK_ID_INCLUDE_PARAMS = 20
TASK_ID_TRUNCATE_PARAMS = 64
TASK_ID_TRUNCATE_HASH = 10
_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_]")
_json_str = json.encoder.encode_basestring_ascii  # what json.dumps uses


def task_id_str(
    family: str, str_params: Mapping[str, str], hashed: Mapping[str, str] | None = None
) -> str:
    """luigi's task id: family, a readable summary of the values, and a hash of all of them
    (with ``hashed`` in place of the texts of the values that their text does not name
    exactly: :meth:`daskflow.parameters.Parameter.exact`).

    >>> task_id_str('TaskA', {})
    'TaskA__99914b932b'
    >>> task_id_str('TaskA', {'do_preprocess': 'True', 'model': 'ols x/y'})
    'TaskA_True_ols_x_y_f7cb647d0a'
    """
    names = sorted(str_params)
    texts = {**str_params, **hashed} if hashed else str_params
    # json.dumps(params, separators=(",", ":"), sort_keys=True), written out: the values
    # are strings, and this runs once per task instance
    pairs = ",".join(f"{_json_str(n)}:{_json_str(texts[n])}" for n in names)
    canonical = "{" + pairs + "}"
    digest = hashlib.md5(canonical.encode("utf-8")).hexdigest()
    names = names[:TASK_ID_INCLUDE_PARAMS]
    summary = "_".join(str_params[n][:TASK_ID_TRUNCATE_PARAMS] for n in names)
    summary = _INVALID_CHARS.sub("_", summary)
    return f"{family}_{summary}_{digest[:TASK_ID_TRUNCATE_HASH]}"
