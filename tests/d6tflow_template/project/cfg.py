"""The project's settings: the defaults of the workflow parameters."""

import datetime

do_preprocess = True
dt_start = datetime.date(2010, 1, 1)
dt_end = datetime.date(2020, 1, 1)
