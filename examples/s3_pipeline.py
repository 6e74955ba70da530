"""The quickstart pipeline with its outputs on S3 or any S3-compatible store (MinIO, Ceph, ...).

The tasks are quickstart's, unchanged: only the root of the outputs moves to a bucket.

    export DASKFLOW_S3_BUCKET=my-bucket                      # required
    export DASKFLOW_S3_ENDPOINT=http://127.0.0.1:9000        # optional: unset means AWS S3
    export DASKFLOW_S3_PREFIX=pipelines/quickstart           # optional (this is the default)
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...   # or AWS_PROFILE, ~/.aws, a role
    python -m pip install "daskflow[s3]"
    python examples/s3_pipeline.py

The bucket must exist. Credentials are never passed by daskflow: s3fs finds them the usual
way (environment, ``~/.aws``, an instance role), on every worker too. The endpoint goes into
``daskflow.settings.storage_options`` (what ``s3fs.S3FileSystem`` takes), which daskflow
sends along with every task, so workers on a cluster write to the same store.

On a cluster, add ``--scheduler tcp://host:8786``; the workers then need the s3 extra
installed and must be able to import ``quickstart`` (run from this folder, install your
pipeline as a package, or ``client.upload_file("quickstart.py")``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

from quickstart import TaskGetData, TaskTrain  # the pipeline itself, not a copy

import daskflow as d6tflow

DEFAULT_PREFIX = "pipelines/quickstart"

HOW_TO = """\
s3_pipeline.py needs a bucket to write to. Set:
  DASKFLOW_S3_BUCKET    the bucket (it must exist), e.g. my-bucket
  DASKFLOW_S3_ENDPOINT  the endpoint of an S3-compatible store, e.g. http://127.0.0.1:9000
                        (leave unset for AWS S3 itself)
  DASKFLOW_S3_PREFIX    optional folder inside the bucket (default: {prefix})
and the credentials the usual way: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or
AWS_PROFILE). Install the S3 support with: python -m pip install "daskflow[s3]"
"""


class MissingSettings(Exception):
    """The environment does not say where to write."""


def s3_location(environ: Mapping[str, str] = os.environ) -> tuple[str, dict[str, Any]]:
    """The output root (``s3://bucket/prefix``) and the storage options, from ``environ``."""
    bucket = environ.get("DASKFLOW_S3_BUCKET", "").strip()
    if not bucket:
        raise MissingSettings(HOW_TO.format(prefix=DEFAULT_PREFIX).rstrip())
    prefix = environ.get("DASKFLOW_S3_PREFIX", DEFAULT_PREFIX).strip("/")
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"

    # Everything here is passed to s3fs.S3FileSystem(**storage_options).
    storage_options: dict[str, Any] = {
        # fail within seconds, not minutes, when the endpoint is down
        "config_kwargs": {"connect_timeout": 5, "retries": {"max_attempts": 2}},
    }
    endpoint = environ.get("DASKFLOW_S3_ENDPOINT", "").strip()
    if endpoint:
        storage_options["client_kwargs"] = {"endpoint_url": endpoint}
    return url, storage_options


def main(
    url: str | None = None,
    storage_options: dict[str, Any] | None = None,
    scheduler: str | None = None,
) -> dict:
    """Run the quickstart pipeline under ``url`` (default: from the environment, see
    :func:`s3_location`); return the trained model."""
    if url is None:
        url, storage_options = s3_location()
    d6tflow.set_dir(url)  # every output of every task now goes under this URL
    d6tflow.settings.storage_options = dict(storage_options or {})

    flow = d6tflow.Workflow(TaskTrain, {"do_preprocess": False})
    flow.preview()  # the completeness check is one listing per task folder in the bucket
    flow.run(scheduler=scheduler)
    model = flow.outputLoad()
    print("model:", model)
    print("model stored at:", flow.outputPath())
    print("data stored at: ", flow.outputPath(TaskGetData))
    # Everything COMPLETE. Run the script again and TaskGetData is found in the bucket; only
    # TaskPreprocess (kept in memory, so gone with this process) and TaskTrain run again.
    flow.preview()
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="sync, threads, processes or tcp://host:8786")
    args = parser.parse_args()
    try:
        location = s3_location()
    except MissingSettings as e:
        sys.exit(str(e))  # the message on stderr, exit status 1
    try:
        main(*location, scheduler=args.scheduler)
    except d6tflow.errors.StorageError as e:  # no bucket, wrong credentials, no endpoint
        sys.exit(f"s3_pipeline.py: {e}")
