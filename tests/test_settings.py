"""Settings: a run's values applied to its tasks in another process, changing nothing of the
process's own; one error tree."""

from __future__ import annotations

import threading

import pytest

import daskflow
from daskflow import errors, settings


def test_applied_settings_are_put_back_after_the_node():
    settings.check_dependencies = True
    with settings.applied({"check_dependencies": False, "dir": "elsewhere"}):
        assert settings.check_dependencies is False
        assert settings.current("dir") == "elsewhere"
    assert settings.check_dependencies is True
    assert settings.current("dir") == settings.dir


def test_settings_are_put_back_after_overlapping_nodes():
    # nodes of two runs overlap on a worker's threads and end in either order
    before = settings.save_with_param
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with settings.applied({"save_with_param": not before}):
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with settings.applied({"save_with_param": before, "cached": True}):
            second_in.set()
            first_out.wait(10)
            seen["after the first left"] = settings.cached

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after the first left": True}  # the other node still had its values
    assert settings.save_with_param is before and settings.cached is False


def test_applied_values_are_per_thread_for_daskflow():
    # two nodes of runs with different settings overlap on one worker's threads
    seen = {}
    both_inside = threading.Barrier(2, timeout=10)

    def node(name, value):
        with settings.applied({"save_with_param": value}):
            both_inside.wait()
            seen[name] = settings.current("save_with_param")
            both_inside.wait()

    threads = [threading.Thread(target=node, args=(n, v)) for n, v in (("a", False), ("b", True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"a": False, "b": True}


def test_unknown_shared_settings_and_bad_set_dir_are_settings_errors():
    with (
        pytest.raises(errors.SettingsError, match="not shared settings"),
        settings.applied({"nope": 1}),
    ):
        pass
    with pytest.raises(errors.SettingsError, match="set_dir expects a path"):
        daskflow.set_dir(42)
    with pytest.raises(TypeError):  # what a Python user would catch
        daskflow.set_dir(42)


def test_every_error_daskflow_raises_on_purpose_has_one_root():
    import inspect

    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)]
    raised = [
        c
        for c in classes
        if issubclass(c, Exception)
        and not issubclass(c, Warning)
        and c.__module__ == errors.__name__
    ]
    assert set(raised) - {errors.DaskflowError} <= {
        c for c in raised if issubclass(c, errors.DaskflowError)
    }
    from daskflow import cli

    assert cli.UsageError is errors.UsageError


def test_applied_values_change_nothing_of_the_module_and_keep_what_task_code_sets():
    """A run leaves no trace of its own in the process's settings, and a setting the task's
    code assigns is the process's afterwards (not put back), and the task's own meanwhile."""
    settings.save_with_param = True
    with settings.applied({"save_with_param": False, "cached": False}):
        assert settings.save_with_param is False  # task code reading it sees the run's value
        assert vars(settings)["save_with_param"] is True  # the module's own is untouched
        settings.cached = True  # task code sets one
        assert settings.cached is True and settings.current("cached") is True
        daskflow.set_dir("set-in-a-task")
        assert str(settings.dirpath) == "set-in-a-task"
    assert settings.save_with_param is True
    assert settings.cached is True and str(settings.dirpath) == "set-in-a-task"


@pytest.mark.parametrize(
    ("given", "fix"),
    [("s3:/bucket/x", "s3://bucket/x"), ("gs:/b", "gs://b"), ("file:/tmp/x", "file:///tmp/x")],
)
def test_a_root_url_with_one_slash_is_refused(given, fix):
    with pytest.raises(daskflow.errors.SettingsError, match=f"did you mean {fix!r}"):
        daskflow.set_dir(given)
    with pytest.raises(daskflow.errors.SettingsError, match="one slash"):
        daskflow.settings.dirpath = given


@pytest.mark.parametrize("fine", ["C:/data", "data", "/tmp/a:/b", "s3://b/x", "memory://x"])
def test_roots_that_look_alike_but_are_fine_are_taken(fine):
    assert str(daskflow.set_dir(fine)).replace("\\", "/").endswith(fine.split("://")[-1])


started = threading.Event()
switched = threading.Event()


class SeesItsRoot(daskflow.tasks.TaskPickle):
    def run(self):
        started.set()
        assert switched.wait(30), "the other thread never set the root"
        self.save(str(daskflow.settings.dirpath))  # what task code reads: its run's root


@daskflow.requires(SeesItsRoot)
class AfterItsRoot(daskflow.tasks.TaskPickle):
    def run(self):
        self.save(str(daskflow.settings.dirpath))


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_a_run_keeps_the_settings_it_began_with_whatever_another_thread_sets(scheduler, tmp_path):
    """A notebook starts a run in the background and goes on setting things: the run's
    tasks, in whatever thread they run, write and read under the root it began with."""
    started.clear()
    switched.clear()
    daskflow.set_dir(tmp_path / "first")
    results = []

    def background():
        results.append(daskflow.run(AfterItsRoot(), scheduler=scheduler, execution_summary=False))

    runner = threading.Thread(target=background)
    runner.start()
    assert started.wait(30)
    daskflow.set_dir(tmp_path / "second")  # meanwhile, in the notebook's own thread
    switched.set()
    runner.join(60)
    assert results and results[0].status == "SUCCESS"
    assert not (tmp_path / "second").exists()
    daskflow.set_dir(tmp_path / "first")
    assert AfterItsRoot().outputLoad() == str(tmp_path / "first")
    assert SeesItsRoot().outputLoad() == str(tmp_path / "first")
    assert str(daskflow.settings.dirpath) == str(tmp_path / "first")
