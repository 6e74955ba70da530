"""Generate ground-truth test vectors from the real d6tflow 0.2.8 (on luigi 3.7.x).

This script is NOT part of the test suite and is NOT run by CI. It must be run
with the python of a separate virtualenv that has the reference implementation
installed (outside the repo), e.g.::

    python3.11 -m venv /work/d6t-venv
    /work/d6t-venv/bin/pip install "d6tflow==0.2.8" "luigi<3.8" pandas pyarrow
    /work/d6t-venv/bin/python tests/d6tflow_vectors/make_vectors.py

It chdirs into a temporary directory (so d6tflow's default ``data/`` output
folder never lands in the repo) and writes ``vectors.json`` next to this file
(indent=2, sorted keys).

Encoding of values in the JSON ("tagged" form, see ``tag()`` / ``untag()``):

* JSON scalars (str, int, float, bool) are written as-is, except that
  non-finite floats are not used.
* ``{"kind": "none"}``                       -> None
* ``{"kind": "date", "value": "2020-01-02"}`` -> datetime.date
* ``{"kind": "datetime", "value": "2020-01-02T03:04:05"}`` -> datetime.datetime
* ``{"kind": "timedelta", "days": d, "seconds": s, "microseconds": us}``
* ``{"kind": "date_interval", "type": "Week", "args": [...]}`` -> luigi.date_interval.<type>(*args)
  (args themselves tagged, e.g. Custom takes two dates)
* ``{"kind": "list", "items": [...]}`` / ``{"kind": "tuple", "items": [...]}``
* ``{"kind": "dict", "items": [[key, value], ...]}`` (insertion order preserved;
  keys are tagged too, so int keys survive)
* ``{"kind": "enum", "enum": "Color", "name": "RED"}`` (enum defs in ``enums``)
* ``{"kind": "task_class", "name": "TRefTarget"}`` -> a task class
* ``{"kind": "float", "value": "1e-07"}`` is NOT used; floats are plain JSON numbers.

Task class definitions are data too (``classes``): each has a base task type,
and a list of parameters ``{"name", "type" (luigi/d6tflow parameter class name),
"kwargs" (tagged), ...}``; the script builds the classes from that data, so the
test side can rebuild identical classes.
"""
import contextlib
import datetime
import enum
import io
import json
import os
import pathlib
import sys
import tempfile
import traceback

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / 'vectors.json'

# import (d6tflow prints a welcome banner on import; capture it)
_buf = io.StringIO()
with contextlib.redirect_stdout(_buf):
    import d6tflow
    import luigi
    import luigi.date_interval
    import luigi.task_register
    import luigi.parameter
    import pandas as pd
IMPORT_STDOUT = _buf.getvalue()

try:
    from importlib.metadata import version as _v
    VERSIONS = {p: _v(p) for p in ['d6tflow', 'luigi', 'pandas', 'pyarrow']}
except Exception:  # pragma: no cover
    VERSIONS = {}
VERSIONS['python'] = sys.version.split()[0]


# ---------------------------------------------------------------------------
# tagged encoding
# ---------------------------------------------------------------------------
ENUMS = {
    'Color': {'RED': 1, 'GREEN': 2, 'BLUE': 3},
}
ENUM_CLASSES = {name: enum.Enum(name, members) for name, members in ENUMS.items()}
TASK_CLASSES = {}  # name -> class (filled as classes are built)


def tag(v):
    if v is None:
        return {'kind': 'none'}
    if isinstance(v, bool) or isinstance(v, (int, float, str)):
        return v
    if isinstance(v, datetime.datetime):
        return {'kind': 'datetime', 'value': v.isoformat()}
    if isinstance(v, datetime.date):
        return {'kind': 'date', 'value': v.isoformat()}
    if isinstance(v, datetime.timedelta):
        return {'kind': 'timedelta', 'days': v.days, 'seconds': v.seconds, 'microseconds': v.microseconds}
    if isinstance(v, luigi.date_interval.DateInterval):
        t = type(v).__name__
        if t == 'Custom':
            args = [tag(v.date_a), tag(v.date_b)]
        elif t == 'Date':
            args = [v.date_a.year, v.date_a.month, v.date_a.day]
        elif t == 'Week':
            y, w, _ = v.date_a.isocalendar()
            args = [y, w]
        elif t == 'Month':
            args = [v.date_a.year, v.date_a.month]
        elif t == 'Year':
            args = [v.date_a.year]
        else:
            raise TypeError(t)
        return {'kind': 'date_interval', 'type': t, 'args': args}
    if isinstance(v, enum.Enum):
        return {'kind': 'enum', 'enum': type(v).__name__, 'name': v.name}
    if isinstance(v, type) and issubclass(v, luigi.Task):
        return {'kind': 'task_class', 'name': v.__name__}
    if isinstance(v, tuple):
        return {'kind': 'tuple', 'items': [tag(x) for x in v]}
    if isinstance(v, list):
        return {'kind': 'list', 'items': [tag(x) for x in v]}
    if isinstance(v, dict):
        return {'kind': 'dict', 'items': [[tag(k), tag(x)] for k, x in v.items()]}
    raise TypeError('cannot tag %r' % (v,))


def untag(v):
    if not isinstance(v, dict):
        return v
    k = v['kind']
    if k == 'none':
        return None
    if k == 'datetime':
        return datetime.datetime.fromisoformat(v['value'])
    if k == 'date':
        return datetime.date.fromisoformat(v['value'])
    if k == 'timedelta':
        return datetime.timedelta(days=v['days'], seconds=v['seconds'], microseconds=v['microseconds'])
    if k == 'date_interval':
        cls = getattr(luigi.date_interval, v['type'])
        return cls(*[untag(a) for a in v['args']])
    if k == 'enum':
        return ENUM_CLASSES[v['enum']][v['name']]
    if k == 'task_class':
        return TASK_CLASSES[v['name']]
    if k == 'tuple':
        return tuple(untag(x) for x in v['items'])
    if k == 'list':
        return [untag(x) for x in v['items']]
    if k == 'dict':
        return {untag(a): untag(b) for a, b in v['items']}
    raise TypeError(k)


def err(e):
    return {'error': type(e).__name__, 'message': str(e)}


def capture(fn):
    """Run fn, return (result, stdout, exception)."""
    buf = io.StringIO()
    exc = None
    res = None
    with contextlib.redirect_stdout(buf):
        try:
            res = fn()
        except Exception as e:  # noqa
            exc = e
    return res, buf.getvalue(), exc


def text_record(s):
    return {'text': s, 'lines': s.split('\n')}


# ---------------------------------------------------------------------------
# building task classes from JSON-able specs
# ---------------------------------------------------------------------------
PARAM_NS = {n: getattr(luigi.parameter, n) for n in dir(luigi.parameter) if n.endswith('Parameter')}
BASES = {n: getattr(d6tflow.tasks, n) for n in dir(d6tflow.tasks) if n.startswith('Task')}


def build_param(p):
    cls = PARAM_NS[p['type']]
    kwargs = {}
    for k, v in p.get('kwargs', {}).items():
        if k == 'enum':
            kwargs[k] = ENUM_CLASSES[v]
        elif k == 'var_type':
            kwargs[k] = {'int': int, 'float': float, 'str': str}[v]
        elif k == 'visibility':
            kwargs[k] = getattr(luigi.parameter.ParameterVisibility, v)
        elif k == 'choices':
            kwargs[k] = [untag(x) for x in v]
        else:
            kwargs[k] = untag(v)
    return cls(**kwargs)


def build_class(spec):
    attrs = {'__module__': __name__}
    for k, v in spec.get('attrs', {}).items():
        attrs[k] = v
    for p in spec.get('params', []):
        attrs[p['name']] = build_param(p)
    cls = type(spec['name'], (BASES[spec.get('base', 'TaskPqPandas')],), attrs)
    TASK_CLASSES[spec['name']] = cls
    return cls


def P(name, type_, **kwargs):
    return {'name': name, 'type': type_, 'kwargs': {k: tag(v) if k not in ('enum', 'var_type', 'visibility', 'choices') else ([tag(x) for x in v] if k == 'choices' else v) for k, v in kwargs.items()}}


D = datetime.date
DT = datetime.datetime
TD = datetime.timedelta
DI = luigi.date_interval

# (class spec, [kwargs dicts for instances])
TASK_ID_CASES = [
    ({'name': 'TNoParams', 'params': []}, [{}]),
    ({'name': 'TStr', 'params': [P('s', 'Parameter')]}, [
        {'s': 'abc'}, {'s': 'has space'}, {'s': 'a/b'}, {'s': '../up'}, {'s': '..'},
        {'s': 'ünïcödé'}, {'s': '日本語'}, {'s': ''}, {'s': 'a_b-c.d'}, {'s': 'quote\'"\\'},
        {'s': 'x' * 100}, {'s': '1'}, {'s': 1}, {'s': 'tab\tnewline\n'},
    ]),
    ({'name': 'TStrDefault', 'params': [P('s', 'Parameter', default='dflt')]}, [{}, {'s': 'dflt'}, {'s': 'other'}]),
    ({'name': 'TInt', 'params': [P('i', 'IntParameter')]}, [{'i': 0}, {'i': 1}, {'i': -5}, {'i': 10 ** 20}]),
    ({'name': 'TFloat', 'params': [P('f', 'FloatParameter')]}, [
        {'f': 0.5}, {'f': 1e-7}, {'f': 1}, {'f': 1.0}, {'f': 1e20}, {'f': 1e16}, {'f': 0.1 + 0.2}, {'f': -0.0},
        {'f': 123456.789}, {'f': 2.5e-5},
    ]),
    ({'name': 'TBool', 'params': [P('b', 'BoolParameter', default=True)]}, [{}, {'b': True}, {'b': False}]),
    ({'name': 'TBoolNoDefault', 'params': [P('b', 'BoolParameter')]}, [{}, {'b': True}, {'b': False}]),
    ({'name': 'TDate', 'params': [P('d', 'DateParameter')]}, [{'d': D(2020, 1, 2)}, {'d': D(1999, 12, 31)}]),
    ({'name': 'TMonth', 'params': [P('m', 'MonthParameter')]}, [{'m': D(2020, 3, 1)}, {'m': D(2020, 3, 15)}]),
    ({'name': 'TYear', 'params': [P('y', 'YearParameter')]}, [{'y': D(2020, 1, 1)}, {'y': D(2020, 6, 15)}]),
    ({'name': 'TDateHour', 'params': [P('dh', 'DateHourParameter')]}, [
        {'dh': DT(2020, 1, 2, 3)}, {'dh': DT(2020, 1, 2, 3, 45, 30)}]),
    ({'name': 'TDateMinute', 'params': [P('dm', 'DateMinuteParameter')]}, [
        {'dm': DT(2020, 1, 2, 3, 4)}, {'dm': DT(2020, 1, 2, 3, 4, 59)}]),
    ({'name': 'TDateSecond', 'params': [P('ds', 'DateSecondParameter')]}, [
        {'ds': DT(2020, 1, 2, 3, 4, 5)}, {'ds': DT(2020, 1, 2, 3, 4, 5, 123456)}]),
    ({'name': 'TTimeDelta', 'params': [P('td', 'TimeDeltaParameter')]}, [
        {'td': TD(days=1, hours=2, minutes=3, seconds=4)}, {'td': TD(days=15)}, {'td': TD(seconds=1.5)},
        {'td': TD(0)}, {'td': TD(weeks=2, days=3, hours=25)},
    ]),
    ({'name': 'TDateInterval', 'params': [P('di', 'DateIntervalParameter')]}, [
        {'di': DI.Date(2020, 1, 2)}, {'di': DI.Week(2020, 5)}, {'di': DI.Month(2020, 3)}, {'di': DI.Year(2020)},
        {'di': DI.Custom(D(2020, 1, 1), D(2020, 2, 1))},
    ]),
    ({'name': 'TList', 'params': [P('l', 'ListParameter')]}, [
        {'l': [1, 2]}, {'l': [[1, 2], [3]]}, {'l': ['a', 'b']}, {'l': []}, {'l': [1.5, None, True]},
        {'l': [{'b': 1, 'a': 2}]}, {'l': (1, 2)}, {'l': ['ü']},
    ]),
    ({'name': 'TTuple', 'params': [P('t', 'TupleParameter')]}, [
        {'t': (1, 2)}, {'t': ((1, 2), (3, 4))}, {'t': ('a',)}, {'t': [1, 2]},
    ]),
    ({'name': 'TDict', 'params': [P('d', 'DictParameter')]}, [
        {'d': {'b': 1, 'a': 2}}, {'d': {'a': 2, 'b': 1}}, {'d': {'z': {'y': 1, 'x': [1, 2]}}}, {'d': {}},
        {'d': {1: 'a'}}, {'d': {'k': None, 'f': 0.5, 'u': 'ü'}},
    ]),
    ({'name': 'TEnum', 'params': [P('e', 'EnumParameter', enum='Color')]}, [
        {'e': ENUM_CLASSES['Color'].RED}, {'e': ENUM_CLASSES['Color'].BLUE}]),
    ({'name': 'TChoice', 'params': [P('c', 'ChoiceParameter', choices=['x', 'y', 'z'])]}, [{'c': 'x'}, {'c': 'z'}]),
    ({'name': 'TChoiceInt', 'params': [P('c', 'ChoiceParameter', choices=[1, 2, 3], var_type='int')]}, [{'c': 2}]),
    ({'name': 'TNumericalInt', 'params': [P('n', 'NumericalParameter', var_type='int', min_value=0, max_value=10)]},
     [{'n': 3}]),
    ({'name': 'TNumericalFloat', 'params': [P('n', 'NumericalParameter', var_type='float', min_value=0.0, max_value=1.0)]},
     [{'n': 0.25}, {'n': 1e-7}]),
    ({'name': 'TOptional', 'params': [P('o', 'OptionalParameter', default=None)]}, [{}, {'o': None}, {'o': 'val'}, {'o': ''}]),
    ({'name': 'TRefTarget', 'params': []}, [{}]),
    ({'name': 'TTaskParam', 'params': [P('tp', 'TaskParameter')]}, [{'tp': {'__task_class__': 'TRefTarget'}}]),
    ({'name': 'TInsignificant', 'params': [P('a', 'Parameter'), P('hidden', 'Parameter', significant=False, default='h')]},
     [{'a': 'x'}, {'a': 'x', 'hidden': 'other'}]),
    ({'name': 'TVisibility', 'params': [P('pub', 'Parameter', default='p'),
                                        P('hid', 'Parameter', default='h', visibility='HIDDEN'),
                                        P('priv', 'Parameter', default='v', visibility='PRIVATE')]}, [{}]),
    ({'name': 'TOrder', 'params': [P('zeta', 'Parameter'), P('alpha', 'Parameter'), P('Beta', 'Parameter'),
                                   P('_under', 'Parameter')]},
     [{'zeta': 'z', 'alpha': 'a', 'Beta': 'B', '_under': 'u'}]),
    ({'name': 'TMany', 'params': [P('p%02d' % i, 'IntParameter', default=i) for i in range(25)]}, [{}]),
    ({'name': 'TMixed', 'params': [P('s', 'Parameter'), P('i', 'IntParameter'), P('f', 'FloatParameter'),
                                   P('d', 'DateParameter'), P('l', 'ListParameter'), P('dd', 'DictParameter')]},
     [{'s': 'x', 'i': 1, 'f': 0.5, 'd': D(2020, 1, 2), 'l': [1, 2], 'dd': {'b': 1, 'a': 2}}]),
    ({'name': 'Task_Underscore', 'params': [P('x', 'IntParameter', default=1)]}, [{}]),
    ({'name': 'TCacheKind', 'base': 'TaskCache', 'params': [P('x', 'IntParameter', default=1)]}, [{}]),
    ({'name': 'TCSVGZ', 'base': 'TaskCSVGZPandas', 'params': [P('x', 'IntParameter', default=1)]}, [{}]),
    ({'name': 'TPickleKind', 'base': 'TaskPickle', 'params': []}, [{}]),
    ({'name': 'TJsonKind', 'base': 'TaskJson', 'params': []}, [{}]),
    ({'name': 'TCSVKind', 'base': 'TaskCSVPandas', 'params': []}, [{}]),
    ({'name': 'TMultiOut', 'attrs': {'persist': ['x', 'y']}, 'params': [P('a', 'IntParameter', default=1)]}, [{}]),
    ({'name': 'TTargetDir', 'attrs': {'target_dir': 'custom_dir'}, 'params': []}, [{}]),
    ({'name': 'TNoSaveAttrib', 'attrs': {'save_attrib': False}, 'params': []}, [{}]),
    ({'name': 'TTaskGroup', 'attrs': {'task_group': 'g1'}, 'params': []}, [{}]),
    ({'name': 'TClassPath', 'attrs': {'path': 'classpath'}, 'params': []}, [{}]),
]


def prepare_kwargs(kw):
    out = {}
    for k, v in kw.items():
        if isinstance(v, dict) and '__task_class__' in v:
            v = TASK_CLASSES[v['__task_class__']]
        out[k] = v
    return out


def clear_state():
    luigi.task_register.Register.clear_instance_cache()
    d6tflow.cache.data.clear()


def task_record(t):
    rec = {
        'task_id': t.task_id,
        'task_family': t.task_family,
        'to_str_params_significant': list(map(list, t.to_str_params(only_significant=True).items())),
        'to_str_params_all': list(map(list, t.to_str_params().items())),
        'hash_input': json.dumps(t.to_str_params(only_significant=True, only_public=True),
                                 separators=(',', ':'), sort_keys=True),
        'repr': repr(t),
        'str': str(t),
        'param_kwargs_repr': {k: repr(v) for k, v in t.param_kwargs.items()},
    }
    if getattr(t, 'task_group', None) is not None:
        # task_group builds an ABSOLUTE dir ('/group=<g>'); output()/_get_meta_path would mkdir it
        # at the filesystem root, so only compute the paths (no target construction).
        rec['output_path'] = str(t._getpath('data'))
        rec['meta_path'] = str(t._getpath('meta').with_suffix('.pickle'))
        rec['note'] = 'computed via _getpath without constructing the target (it would mkdir /group=...)'
        return rec
    out = t.output()
    if isinstance(out, dict):
        rec['output_paths'] = {k: str(v.path) for k, v in out.items()}
        rec['output_path_types'] = {k: type(v.path).__name__ for k, v in out.items()}
    else:
        rec['output_path'] = str(out.path)
        rec['output_path_type'] = type(out.path).__name__
        rec['output_target_class'] = type(out).__name__
    try:
        rec['meta_path'] = str(t._get_meta_path(t))
    except Exception as e:
        rec['meta_path'] = err(e)
    return rec


def section_task_ids():
    classes = []
    cases = []
    for spec, instances in TASK_ID_CASES:
        cls = build_class(spec)
        classes.append(spec)
    for spec, instances in TASK_ID_CASES:
        cls = TASK_CLASSES[spec['name']]
        for kw in instances:
            clear_state()
            rec = {'class': spec['name'], 'params': {k: tag(v) for k, v in prepare_kwargs(kw).items()}}
            try:
                t = cls(**prepare_kwargs(kw))
                rec.update(task_record(t))
            except Exception as e:
                rec['exception'] = err(e)
            cases.append(rec)
    return {'classes': classes, 'cases': cases}


# ---------------------------------------------------------------------------
# documentation pipeline
# ---------------------------------------------------------------------------
RUNLOG = []


class TaskGetData(d6tflow.tasks.TaskPqPandas):
    def run(self):
        RUNLOG.append(repr(self))
        df = pd.DataFrame({'a': [1, 2, 3], 'y': [0, 1, 0]})
        self.save(df)


@d6tflow.requires(TaskGetData)
class TaskPreprocess(d6tflow.tasks.TaskCachePandas):
    do_preprocess = d6tflow.BoolParameter(default=True)

    def run(self):
        RUNLOG.append(repr(self))
        df = self.inputLoad()
        if self.do_preprocess:
            df['a'] = df['a'] * 2
        self.save(df)


@d6tflow.requires(TaskPreprocess)
class TaskTrain(d6tflow.tasks.TaskPickle):
    def run(self):
        RUNLOG.append(repr(self))
        df = self.inputLoad()
        self.save({'model': 'ols', 'n': len(df), 'sum_a': int(df['a'].sum())})


class TaskSibA(d6tflow.tasks.TaskCache):
    def run(self):
        RUNLOG.append(repr(self))
        self.save('A')


class TaskSibB(d6tflow.tasks.TaskCache):
    n = d6tflow.IntParameter(default=2)

    def run(self):
        RUNLOG.append(repr(self))
        self.save('B')


class TaskSibLeaf(d6tflow.tasks.TaskCache):
    def run(self):
        self.save('L')


class TaskSibBDeep(d6tflow.tasks.TaskCache):
    def requires(self):
        return TaskSibLeaf()

    def run(self):
        self.save('BD')


class TaskTwoReqs(d6tflow.tasks.TaskCache):
    n = d6tflow.IntParameter(default=2)

    def requires(self):
        return [TaskSibA(), TaskSibB(n=self.n)]

    def run(self):
        RUNLOG.append(repr(self))
        self.save('AB')


class TaskTwoReqsDict(d6tflow.tasks.TaskCache):
    def requires(self):
        return {'b': TaskSibBDeep(), 'a': TaskSibA()}

    def run(self):
        self.save('ABD')


class TaskFailOk(d6tflow.tasks.TaskCache):
    def run(self):
        RUNLOG.append(repr(self))
        self.save('ok')


@d6tflow.requires(TaskFailOk)
class TaskFailBad(d6tflow.tasks.TaskCache):
    def run(self):
        RUNLOG.append(repr(self))
        raise ValueError('boom')


@d6tflow.requires(TaskFailBad)
class TaskFailDown(d6tflow.tasks.TaskCache):
    def run(self):
        RUNLOG.append(repr(self))
        self.save('never')


class TaskFailSibling(d6tflow.tasks.TaskCache):
    def run(self):
        RUNLOG.append(repr(self))
        self.save('sib')


class TaskIdx(d6tflow.tasks.TaskCache):
    i = d6tflow.IntParameter()

    def run(self):
        self.save(self.i)


PIPELINE_SOURCE = '''
class TaskGetData(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(pd.DataFrame({'a': [1, 2, 3], 'y': [0, 1, 0]}))

@d6tflow.requires(TaskGetData)
class TaskPreprocess(d6tflow.tasks.TaskCachePandas):
    do_preprocess = d6tflow.BoolParameter(default=True)
    def run(self):
        df = self.inputLoad()
        if self.do_preprocess:
            df['a'] = df['a'] * 2
        self.save(df)

@d6tflow.requires(TaskPreprocess)
class TaskTrain(d6tflow.tasks.TaskPickle):
    def run(self):
        df = self.inputLoad()
        self.save({'model': 'ols', 'n': len(df), 'sum_a': int(df['a'].sum())})

class TaskSibA(d6tflow.tasks.TaskCache):            # save('A')
class TaskSibB(d6tflow.tasks.TaskCache): n = IntParameter(default=2)
class TaskSibLeaf(d6tflow.tasks.TaskCache)
class TaskSibBDeep(d6tflow.tasks.TaskCache): requires -> TaskSibLeaf()
class TaskTwoReqs(d6tflow.tasks.TaskCache): n = IntParameter(default=2); requires -> [TaskSibA(), TaskSibB(n=self.n)]
class TaskTwoReqsDict(d6tflow.tasks.TaskCache): requires -> {'b': TaskSibBDeep(), 'a': TaskSibA()}
class TaskFailOk(TaskCache)                          # ok
@requires(TaskFailOk) class TaskFailBad(TaskCache)   # run raises ValueError('boom')
@requires(TaskFailBad) class TaskFailDown(TaskCache)
class TaskFailSibling(TaskCache)                     # ok, independent
class TaskIdx(TaskCache): i = IntParameter()
'''


WORK_ROOT = None  # set in main(): a TemporaryDirectory removed at the end


def fresh_dir():
    d = tempfile.mkdtemp(prefix='d6tvec_', dir=WORK_ROOT)
    os.chdir(d)
    clear_state()
    RUNLOG.clear()
    return d


def preview_rec(fn):
    res, out, exc = capture(fn)
    rec = text_record(out)
    if exc is not None:
        rec['exception'] = err(exc)
    return rec


def run_rec(fn):
    RUNLOG.clear()
    res, out, exc = capture(fn)
    rec = text_record(out)
    rec['ran'] = list(RUNLOG)
    if exc is not None:
        rec['exception'] = err(exc)
    if res is not None:
        rec['return_type'] = type(res).__name__
        if hasattr(res, 'status'):
            rec['status'] = str(res.status)
            rec['scheduling_succeeded'] = res.scheduling_succeeded
            rec['summary_text_equals_stdout_minus_newline'] = (res.summary_text + '\n' == out)
    return rec


def section_preview_and_summary():
    preview = {}
    summary = {}
    fresh_dir()
    flow = d6tflow.Workflow(TaskTrain)
    preview['pipeline_before_run'] = preview_rec(lambda: flow.preview())
    preview['pipeline_before_run_module_function'] = preview_rec(lambda: d6tflow.preview(TaskTrain()))
    preview['pipeline_before_run_show_params_false'] = preview_rec(lambda: d6tflow.preview(TaskTrain(), show_params=False))
    preview['pipeline_before_run_clip_params_true'] = preview_rec(lambda: d6tflow.preview(TaskTrain(), clip_params=True))
    preview['pipeline_do_preprocess_false'] = preview_rec(lambda: d6tflow.preview(TaskTrain(do_preprocess=False)))
    preview['pipeline_list_of_two_tasks'] = preview_rec(lambda: d6tflow.preview([TaskPreprocess(), TaskTrain()]))
    summary['pipeline_first_run'] = run_rec(lambda: flow.run())
    preview['pipeline_after_run'] = preview_rec(lambda: flow.preview())
    summary['pipeline_rerun_complete'] = run_rec(lambda: flow.run())
    preview['pipeline_after_run_do_preprocess_false'] = preview_rec(
        lambda: d6tflow.Workflow(TaskTrain, {'do_preprocess': False}).preview())
    summary['pipeline_run_do_preprocess_false'] = run_rec(
        lambda: d6tflow.Workflow(TaskTrain, {'do_preprocess': False}).run())
    summary['pipeline_module_run_complete'] = run_rec(lambda: d6tflow.run(TaskTrain()))
    summary['pipeline_run_execution_summary_false'] = run_rec(lambda: d6tflow.run(TaskTrain(), execution_summary=False))

    fresh_dir()
    preview['two_requirements_before_run'] = preview_rec(lambda: d6tflow.preview(TaskTwoReqs()))
    preview['two_requirements_before_run_clip_params'] = preview_rec(
        lambda: d6tflow.preview(TaskTwoReqs(), clip_params=True))
    preview['two_requirements_dict_nested'] = preview_rec(lambda: d6tflow.preview(TaskTwoReqsDict()))
    summary['two_requirements_run'] = run_rec(lambda: d6tflow.run(TaskTwoReqs()))
    preview['two_requirements_after_run'] = preview_rec(lambda: d6tflow.preview(TaskTwoReqs()))
    preview['two_requirements_dict_nested_clip_params'] = preview_rec(
        lambda: d6tflow.preview(TaskTwoReqsDict(), clip_params=True))
    summary['two_requirements_dict_nested_run'] = run_rec(lambda: d6tflow.run(TaskTwoReqsDict()))

    fresh_dir()
    preview['failing_before_run'] = preview_rec(lambda: d6tflow.preview([TaskFailDown(), TaskFailSibling()]))
    summary['failing_abort_false'] = run_rec(lambda: d6tflow.run([TaskFailDown(), TaskFailSibling()], abort=False))
    preview['failing_after_run'] = preview_rec(lambda: d6tflow.preview([TaskFailDown(), TaskFailSibling()]))
    fresh_dir()
    summary['failing_abort_true'] = run_rec(lambda: d6tflow.run([TaskFailDown(), TaskFailSibling()]))
    fresh_dir()
    summary['failing_workflow_abort_false'] = run_rec(lambda: d6tflow.Workflow(TaskFailDown).run(abort=False))

    fresh_dir()
    summary['same_family_many_instances'] = run_rec(
        lambda: d6tflow.run([TaskIdx(i=1), TaskIdx(i=2), TaskIdx(i=3), TaskIdx(i=7)]))
    return preview, summary


# ---------------------------------------------------------------------------
# load shapes
# ---------------------------------------------------------------------------
class LSingle(d6tflow.tasks.TaskCache):
    def run(self):
        self.save('single')


class LMulti(d6tflow.tasks.TaskCache):
    persist = ['x', 'y']

    def run(self):
        self.save({'x': 'mx', 'y': 'my'})


class LMulti3(d6tflow.tasks.TaskCache):
    persist = ['y', 'x', 'z']

    def run(self):
        self.save({'x': 'm3x', 'y': 'm3y', 'z': 'm3z'})


class LPq(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(pd.DataFrame({'a': [1]}))


@d6tflow.requires(LSingle)
class LReqOneSingle(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(1)


@d6tflow.requires(LMulti)
class LReqOneMulti(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(1)


class LReqList(d6tflow.tasks.TaskCache):
    def requires(self):
        return [LSingle(), LMulti()]

    def run(self):
        self.save(1)


class LReqListMulti(d6tflow.tasks.TaskCache):
    def requires(self):
        return [LMulti(), LMulti3()]

    def run(self):
        self.save(1)


@d6tflow.requires({'s': LSingle, 'm': LMulti})
class LReqDict(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(1)


class LReqDictManual(d6tflow.tasks.TaskCache):
    def requires(self):
        return {'m': LMulti(), 's': LSingle(), 'm3': LMulti3()}

    def run(self):
        self.save(1)


@d6tflow.requires(LSingle, LMulti)
class LReqTwoPositional(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(1)


LOAD_SOURCE = '''
class LSingle(TaskCache): save('single')
class LMulti(TaskCache): persist=['x','y']; save({'x':'mx','y':'my'})
class LMulti3(TaskCache): persist=['y','x','z']; save({'x':'m3x','y':'m3y','z':'m3z'})
class LPq(TaskPqPandas): save(DataFrame({'a':[1]}))
@requires(LSingle) class LReqOneSingle(TaskCache)
@requires(LMulti) class LReqOneMulti(TaskCache)
class LReqList(TaskCache): requires -> [LSingle(), LMulti()]
class LReqListMulti(TaskCache): requires -> [LMulti(), LMulti3()]
@requires({'s': LSingle, 'm': LMulti}) class LReqDict(TaskCache)
class LReqDictManual(TaskCache): requires -> {'m': LMulti(), 's': LSingle(), 'm3': LMulti3()}
@requires(LSingle, LMulti) class LReqTwoPositional(TaskCache)   # luigi requires with 2 tasks -> requires() returns a list? see requires_type
'''


def shape(v):
    if isinstance(v, bool):
        return 'bool'
    if isinstance(v, int):
        return 'int'
    if isinstance(v, str):
        return 'str'
    if isinstance(v, pd.DataFrame):
        return 'DataFrame'
    if isinstance(v, list):
        return 'list[' + ','.join(shape(x) for x in v) + ']'
    if isinstance(v, tuple):
        return 'tuple[' + ','.join(shape(x) for x in v) + ']'
    if isinstance(v, dict):
        return 'dict{' + ','.join('%s:%s' % (k, shape(x)) for k, x in v.items()) + '}'
    return type(v).__name__


def jsonable(v):
    if isinstance(v, pd.DataFrame):
        return {'DataFrame': v.to_dict(orient='list')}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {'__dict_items__': [[k, jsonable(x)] for k, x in v.items()]}
    return v


def load_rec(fn):
    try:
        v = fn()
        return {'shape': shape(v), 'value': jsonable(v), 'repr': repr(v)}
    except Exception as e:
        return err(e)


def section_load_shapes():
    fresh_dir()
    d6tflow.run([LReqOneSingle(), LReqOneMulti(), LReqList(), LReqListMulti(), LReqDict(), LReqDictManual(),
                 LReqTwoPositional(), LPq()], execution_summary=False)
    out = {'source': LOAD_SOURCE, 'outputLoad': {}, 'inputLoad': {}, 'requires_type': {}}
    variants = {
        'keys=None': {},
        "keys='x'": {'keys': 'x'},
        "keys=['x']": {'keys': ['x']},
        "keys=['y','x']": {'keys': ['y', 'x']},
        'as_dict=True': {'as_dict': True},
        "keys='x',as_dict=True": {'keys': 'x', 'as_dict': True},
        "keys=['x'],as_dict=True": {'keys': ['x'], 'as_dict': True},
        "keys='data'": {'keys': 'data'},
        "keys=['data']": {'keys': ['data']},
    }
    for cls in [LSingle, LMulti, LMulti3, LPq]:
        out['outputLoad'][cls.__name__] = {name: load_rec(lambda kw=kw: cls().outputLoad(**kw))
                                           for name, kw in variants.items()}
    # Workflow.outputLoad mirrors task.outputLoad
    out['outputLoad']['Workflow(LMulti).outputLoad()'] = load_rec(lambda: d6tflow.Workflow(LMulti).outputLoad())
    out['outputLoad']['Workflow(LMulti).outputLoad(as_dict=True)'] = load_rec(
        lambda: d6tflow.Workflow(LMulti).outputLoad(as_dict=True))
    out['outputLoad']['LReqDict().outputLoadAll-via-Workflow'] = load_rec(
        lambda: d6tflow.Workflow(LReqDict).outputLoadAll())
    out['outputLoad']['not_complete'] = load_rec(lambda: TaskIdx(i=999).outputLoad())

    in_variants = dict(variants)
    in_variants.update({
        "task='s'": {'task': 's'},
        "task='m'": {'task': 'm'},
        "task='m',keys='x'": {'task': 'm', 'keys': 'x'},
        "task='m',keys=['x']": {'task': 'm', 'keys': ['x']},
        "task='m',as_dict=True": {'task': 'm', 'as_dict': True},
        "keys='m'": {'keys': 'm'},
        "keys=['m']": {'keys': ['m']},
        "keys=['s','m']": {'keys': ['s', 'm']},
        "keys=['m','s']": {'keys': ['m', 's']},
        "keys='s'": {'keys': 's'},
        "task=0": {'task': 0},
        "task=1": {'task': 1},
    })
    for cls in [LReqOneSingle, LReqOneMulti, LReqList, LReqListMulti, LReqDict, LReqDictManual, LReqTwoPositional]:
        out['requires_type'][cls.__name__] = shape_requires(cls().requires())
        out['inputLoad'][cls.__name__] = {name: load_rec(lambda kw=kw: cls().inputLoad(**kw))
                                          for name, kw in in_variants.items()}
    out['metaLoad'] = {}
    return out


def shape_requires(r):
    if isinstance(r, luigi.Task):
        return type(r).__name__
    if isinstance(r, (list, tuple)):
        return type(r).__name__ + '[' + ','.join(shape_requires(x) for x in r) + ']'
    if isinstance(r, dict):
        return 'dict{' + ','.join('%s:%s' % (k, shape_requires(x)) for k, x in r.items()) + '}'
    return repr(r)


# ---------------------------------------------------------------------------
# misc behaviours
# ---------------------------------------------------------------------------
class MFile(d6tflow.tasks.TaskPqPandas):
    def run(self):
        RUNLOG.append(repr(self))
        self.save(pd.DataFrame({'a': [1]}))


@d6tflow.requires(MFile)
class MCache(d6tflow.tasks.TaskCache):
    def run(self):
        RUNLOG.append(repr(self))
        self.save('c')


class MFileMulti(d6tflow.tasks.TaskPickle):
    persist = ['x', 'y']

    def run(self):
        RUNLOG.append(repr(self))
        self.save({'x': 1, 'y': 2})


class MCachePersists(d6tflow.tasks.TaskCache):
    persists = ['p', 'q']  # alias of persist

    def run(self):
        self.save({'p': 1, 'q': 2})


class MUnrelated(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save(1)


class MGrid(d6tflow.tasks.TaskPickle):
    a = d6tflow.IntParameter(default=0)
    b = d6tflow.Parameter(default='x')

    def run(self):
        RUNLOG.append(repr(self))
        self.save({'a': self.a, 'b': self.b})


class MClassPath(d6tflow.tasks.TaskPickle):
    path = 'classpath'

    def run(self):
        self.save(1)


class MMeta(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(pd.DataFrame({'a': [1]}))
        self.metaSave({'m': 1})


@d6tflow.requires(MMeta)
class MMetaDown(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(self.metaLoad())


MISC_SOURCE = '''
class MFile(TaskPqPandas); @requires(MFile) class MCache(TaskCache)
class MFileMulti(TaskPickle): persist=['x','y']
class MCachePersists(TaskCache): persists=['p','q']   # 'persists' alias
class MUnrelated(TaskPickle)
class MGrid(TaskPickle): a=IntParameter(default=0); b=Parameter(default='x')
class MClassPath(TaskPickle): path='classpath'   # class attribute
class MMeta(TaskPqPandas): run saves df and metaSave({'m':1}); @requires(MMeta) class MMetaDown(TaskCache): save(self.metaLoad())
'''


def pathval(p):
    if isinstance(p, dict):
        return {k: pathval(v) for k, v in p.items()}
    return {'type': type(p).__name__, 'value': str(p)}


def guard(fn):
    try:
        return fn()
    except Exception as e:
        return err(e)


def section_misc():
    m = {'source': MISC_SOURCE}
    # outputPath
    fresh_dir()
    m['workflow_outputPath'] = {
        'cache_task': guard(lambda: pathval(d6tflow.Workflow(MCache).outputPath())),
        'file_task': guard(lambda: pathval(d6tflow.Workflow(MFile).outputPath())),
        'multi_output_file_task': guard(lambda: pathval(d6tflow.Workflow(MFileMulti).outputPath())),
        'persists_alias_cache_task': guard(lambda: pathval(d6tflow.Workflow(MCachePersists).outputPath())),
        'task_output_cache_path_type': type(MCache().output().path).__name__,
        'task_output_file_path_type': type(MFile().output().path).__name__,
    }
    # Workflow env/path
    paths = {}
    for label, mk in [
        ("Workflow(MFile)", lambda: d6tflow.Workflow(MFile)),
        ("Workflow(MFile, env='prod')", lambda: d6tflow.Workflow(MFile, env='prod')),
        ("Workflow(MFile, path='p', env='prod')", lambda: d6tflow.Workflow(MFile, path='p', env='prod')),
        ("Workflow(MFile, path='p')", lambda: d6tflow.Workflow(MFile, path='p')),
        ("Workflow(MFileMulti, env='prod')", lambda: d6tflow.Workflow(MFileMulti, env='prod')),
        ("Workflow(MClassPath)", lambda: d6tflow.Workflow(MClassPath)),
        ("Workflow(MClassPath, env='prod')", lambda: d6tflow.Workflow(MClassPath, env='prod')),
        ("Workflow(MClassPath, path='p')", lambda: d6tflow.Workflow(MClassPath, path='p')),
    ]:
        fresh_dir()
        paths[label] = guard(lambda: pathval(mk().outputPath()))
        paths[label + '.params'] = guard(lambda: {k: str(v) for k, v in mk().params.items()})
    fresh_dir()
    paths["Workflow(MCache, env='prod').outputPath(MFile) [upstream]"] = guard(
        lambda: pathval(d6tflow.Workflow(MCache, env='prod').outputPath(MFile)))
    fresh_dir()
    paths["Workflow(MCache, env='prod').outputPath() [cache task]"] = guard(
        lambda: pathval(d6tflow.Workflow(MCache, env='prod').outputPath()))
    fresh_dir()
    paths["MFile(path='explicit').output().path"] = guard(lambda: str(MFile(path='explicit').output().path))
    paths["MClassPath(path='explicit').output().path (class attr wins)"] = guard(
        lambda: str(MClassPath(path='explicit').output().path))
    m['workflow_paths'] = paths

    # instance cache surprises
    ic = {}
    fresh_dir()
    a = MFile()
    b = MFile(path='other')
    ic['MFile() then MFile(path=other): same instance'] = a is b
    ic['MFile() then MFile(path=other): second path'] = str(b.output().path)
    fresh_dir()
    d6tflow.Workflow(MCache, env='prod')
    ic["after Workflow(MCache, env='prod') constructed: MFile().output().path"] = str(MFile().output().path)
    ic["after Workflow(MCache, env='prod') constructed: MCache().output().path"] = str(MCache().output().path)
    fresh_dir()
    MUnrelated()
    ic["MUnrelated() created first, then Workflow(MFile, env='prod').outputPath(MUnrelated)"] = str(
        d6tflow.Workflow(MFile, env='prod').outputPath(MUnrelated))
    fresh_dir()
    ic["fresh: Workflow(MFile, env='prod').outputPath(MUnrelated)"] = str(
        d6tflow.Workflow(MFile, env='prod').outputPath(MUnrelated))
    fresh_dir()
    ic['unknown kwarg silently dropped: MFile(foo=1).task_id'] = guard(lambda: MFile(foo=1).task_id)
    ic['Workflow(MGrid, {"a": 1, "zzz": 2}).get_task() repr'] = guard(
        lambda: repr(d6tflow.Workflow(MGrid, {'a': 1, 'zzz': 2}).get_task()))
    ic['Workflow().get_task() with no default'] = guard(lambda: d6tflow.Workflow().get_task())
    ic['missing required param TaskIdx()'] = guard(lambda: TaskIdx())
    m['instance_cache_and_kwargs'] = ic

    # WorkflowMulti names
    wm = {}
    for label, params in [
        ("{'a': [1, 2], 'b': ['x', 'y']}", {'a': [1, 2], 'b': ['x', 'y']}),
        ("{'b': ['x', 'y'], 'a': [1, 2]}", {'b': ['x', 'y'], 'a': [1, 2]}),
        ("{'a': [1, 2, 3]}", {'a': [1, 2, 3]}),
        ("{'exp1': {'a': 1}, 'exp2': {'a': 2}}", {'exp1': {'a': 1}, 'exp2': {'a': 2}}),
        ("[{'a': 1}, {'a': 2}]", [{'a': 1}, {'a': 2}]),
    ]:
        fresh_dir()
        try:
            flow = d6tflow.WorkflowMulti(MGrid, params)
            wm[label] = {
                'flow_names': [tag(k) for k in flow.params.keys()],
                'flow_params': {str(k): {kk: tag(vv) for kk, vv in v.items()} for k, v in flow.params.items()},
                'outputPath': {str(k): str(v) for k, v in flow.outputPath().items()},
            }
        except Exception as e:
            wm[label] = err(e)
    fresh_dir()
    flow = d6tflow.WorkflowMulti(MGrid, {'a': [1, 2], 'b': ['x']})
    wm['run_and_outputLoad (grid {a:[1,2], b:[x]})'] = {
        'run': run_rec(lambda: flow.run()),
        'outputLoad': load_rec(lambda: flow.outputLoad()),
        'outputLoad(flow=...)': load_rec(lambda: flow.outputLoad(flow='a_1_b_x')),
        'preview_stdout': preview_rec(lambda: flow.preview()),
    }
    fresh_dir()
    wm['env'] = guard(lambda: {str(k): str(v) for k, v in d6tflow.WorkflowMulti(
        MGrid, {'a': [1, 2], 'b': ['x']}, env='dev').outputPath().items()})
    wm['empty_dict'] = guard(lambda: d6tflow.WorkflowMulti(MGrid, {}))
    m['workflow_multi'] = wm

    # reset semantics
    rs = {}
    fresh_dir()
    d6tflow.run(TaskTrain(), execution_summary=False)
    def states():
        return {c.__name__: {'complete': c().complete(), 'complete_no_cascade': c().complete(cascade=False)}
                for c in [TaskGetData, TaskPreprocess, TaskTrain]}
    rs['after_run'] = states()
    flow = d6tflow.Workflow(TaskTrain)
    rs['Workflow.reset(TaskGetData) return'] = guard(lambda: flow.reset(TaskGetData))
    rs['after Workflow.reset(TaskGetData)'] = states()
    rs['file_exists_after_reset'] = pathlib.Path(TaskGetData().output().path).exists()
    r = run_rec(lambda: flow.run())
    rs['rerun_after_Workflow.reset(TaskGetData)'] = {'ran': r['ran'], 'text': r['text']}
    fresh_dir()
    d6tflow.run(TaskTrain(), execution_summary=False)
    flow = d6tflow.Workflow(TaskTrain)
    rs['Workflow.reset_upstream(TaskTrain) return'] = guard(lambda: flow.reset_upstream(TaskTrain))
    rs['after reset_upstream(TaskTrain)'] = states()
    fresh_dir()
    d6tflow.run(TaskTrain(), execution_summary=False)
    flow = d6tflow.Workflow(TaskTrain)
    rs["Workflow.reset_downstream(TaskPreprocess) [task_downstream=None -> default task]"] = guard(
        lambda: flow.reset_downstream(TaskPreprocess))
    rs['after reset_downstream(TaskPreprocess)'] = states()
    fresh_dir()
    d6tflow.run(TaskTrain(), execution_summary=False)
    rs['task.reset(confirm=False) on cache task TaskPreprocess'] = guard(lambda: TaskPreprocess().reset(confirm=False))
    rs['after TaskPreprocess().reset(confirm=False)'] = states()
    rs['reset on a never-run task'] = guard(lambda: TaskIdx(i=5).reset(confirm=False))
    fresh_dir()
    d6tflow.run(MFileMulti(), execution_summary=False)
    rs['multi output reset: files before'] = sorted(str(p) for p in pathlib.Path('data').rglob('*') if p.is_file())
    MFileMulti().reset(confirm=False)
    rs['multi output reset: files after'] = sorted(str(p) for p in pathlib.Path('data').rglob('*') if p.is_file())
    rs['default confirm of TaskData.reset'] = 'True (prompts via input()) -- Workflow.reset defaults confirm=False'
    m['reset'] = rs

    # forced runs
    fr = {}
    for label, kw in [
        ('forced=TaskGetData()', lambda: {'forced': TaskGetData()}),
        ('forced=TaskGetData (class)', lambda: {'forced': TaskGetData}),
        ('forced=TaskPreprocess()', lambda: {'forced': TaskPreprocess()}),
        ('forced=[TaskPreprocess()]', lambda: {'forced': [TaskPreprocess()]}),
        ('forced_all=True', lambda: {'forced_all': True}),
        ('forced_all_upstream=True', lambda: {'forced_all_upstream': True}),
    ]:
        fresh_dir()
        d6tflow.run(TaskTrain(), execution_summary=False)
        RUNLOG.clear()
        r = run_rec(lambda: d6tflow.run(TaskTrain(), **kw()))
        fr['d6tflow.run(TaskTrain(), %s)' % label] = {'ran': r['ran'], 'text': r['text'], **(
            {'exception': r['exception']} if 'exception' in r else {})}
    for label, kw in [
        ('forced=TaskGetData', {'forced': TaskGetData}),
        ('forced_all=True', {'forced_all': True}),
        ('forced_all_upstream=True', {'forced_all_upstream': True}),
    ]:
        fresh_dir()
        flow = d6tflow.Workflow(TaskTrain)
        flow.run(execution_summary=False)
        r = run_rec(lambda: flow.run(**kw))
        fr['Workflow(TaskTrain).run(%s)' % label] = {'ran': r['ran'], 'text': r['text'], **(
            {'exception': r['exception']} if 'exception' in r else {})}
    # forced on a not-yet-complete pipeline
    fresh_dir()
    r = run_rec(lambda: d6tflow.run(TaskTrain(), forced=TaskGetData()))
    fr['forced on never-run pipeline'] = {'ran': r['ran'], 'text': r['text']}
    # forced with a task not in the flow
    fresh_dir()
    d6tflow.run(TaskTrain(), execution_summary=False)
    r = run_rec(lambda: d6tflow.run(TaskTrain(), forced=MFile()))
    fr['forced task not upstream (MFile)'] = {'ran': r['ran'], 'text': r['text'], **(
        {'exception': r['exception']} if 'exception' in r else {})}
    m['forced'] = fr

    # complete() cascade and check_dependencies
    cc = {}
    fresh_dir()
    d6tflow.run(TaskTrain(), execution_summary=False)
    d6tflow.cache.data.clear()  # drop in-memory cache -> TaskPreprocess incomplete
    cc['after clearing cache (TaskPreprocess is TaskCachePandas)'] = {
        c.__name__: {'complete': c().complete(), 'complete_no_cascade': c().complete(cascade=False)}
        for c in [TaskGetData, TaskPreprocess, TaskTrain]}
    r = run_rec(lambda: d6tflow.run(TaskTrain()))
    cc['rerun after clearing cache'] = {'ran': r['ran'], 'text': r['text']}
    m['complete_cascade'] = cc

    # meta
    mt = {}
    fresh_dir()
    d6tflow.run(MMetaDown(), execution_summary=False)
    mt['meta_path'] = str(MMeta()._get_meta_path(MMeta()))
    mt['outputLoadMeta'] = guard(lambda: MMeta().outputLoadMeta())
    mt['metaLoad in downstream'] = guard(lambda: MMetaDown().outputLoad())
    mt['outputLoadMeta on task without meta'] = guard(lambda: MMetaDown().outputLoadMeta())
    mt['outputLoadAllMeta'] = guard(lambda: MMetaDown().outputLoadAllMeta())
    mt['files'] = sorted(str(p) for p in pathlib.Path('data').rglob('*') if p.is_file())
    m['meta'] = mt

    # files written by the pipeline
    fresh_dir()
    d6tflow.run(TaskTrain(), execution_summary=False)
    m['pipeline_files_on_disk'] = sorted(str(p) for p in pathlib.Path('data').rglob('*'))
    m['pipeline_cache_keys'] = sorted(str(k) for k in d6tflow.cache.data.keys())
    m['pipeline_taskflow_upstream'] = [repr(t) for t in d6tflow.taskflow_upstream(TaskTrain())]
    m['pipeline_taskflow_downstream(TaskGetData, TaskTrain)'] = sorted(
        repr(t) for t in d6tflow.taskflow_downstream(TaskGetData(), TaskTrain()))
    m['outputLoadAll'] = load_rec(lambda: d6tflow.Workflow(TaskTrain).outputLoadAll())
    m['TaskTrain outputLoad'] = load_rec(lambda: TaskTrain().outputLoad())
    m['output() creates parent directory on construction'] = None
    fresh_dir()
    MFile().output()
    m['output() creates parent directory on construction'] = sorted(str(p) for p in pathlib.Path('.').rglob('*'))
    m['settings'] = {
        'dir': d6tflow.settings.dir, 'dirpath': str(d6tflow.settings.dirpath),
        'check_dependencies': d6tflow.settings.check_dependencies, 'log_level': d6tflow.settings.log_level,
        'execution_summary': d6tflow.settings.execution_summary, 'save_with_param': d6tflow.settings.save_with_param,
        'TASK_ID_INCLUDE_PARAMS': luigi.task.TASK_ID_INCLUDE_PARAMS,
        'TASK_ID_TRUNCATE_PARAMS': luigi.task.TASK_ID_TRUNCATE_PARAMS,
        'TASK_ID_TRUNCATE_HASH': luigi.task.TASK_ID_TRUNCATE_HASH,
    }
    m['import_stdout'] = IMPORT_STDOUT
    return m


def main():
    global WORK_ROOT
    cwd = os.getcwd()
    tmp = tempfile.TemporaryDirectory(prefix='d6tvectors_')
    WORK_ROOT = work = tmp.name
    os.chdir(work)
    try:
        vectors = {
            'versions': VERSIONS,
            'enums': ENUMS,
            'pipeline_source': PIPELINE_SOURCE,
        }
        vectors['task_ids'] = section_task_ids()
        os.chdir(work)
        preview, summary = section_preview_and_summary()
        vectors['preview'] = preview
        vectors['summary'] = summary
        vectors['load_shapes'] = section_load_shapes()
        vectors['misc'] = section_misc()
    finally:
        os.chdir(cwd)
        tmp.cleanup()
    with open(OUT, 'w', encoding='utf-8') as fh:
        json.dump(vectors, fh, indent=2, sort_keys=True, ensure_ascii=False, default=repr)
        fh.write('\n')
    print('wrote', OUT)


if __name__ == '__main__':
    main()
