"""Work an app wants the task cluster to run on a schedule, declared in its AppConfig.

Each app lists its `housekeeping` (purges, recounts, sweeps) beside its role grants;
`config.tasks.housekeeping_schedule` registers them all after every migrate, by name, so
a schedule is created once and follows its declaration.
"""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Housekeeping:
    # The schedule's name: what the admin shows, and the key it is kept under.
    name: str
    # The dotted path of the task.
    task: str
    # "daily", "hourly", or every so many minutes.
    every: Literal["daily", "hourly"] | int
    # A setting holding the minutes instead (read when the schedule is written).
    minutes_setting: str = ""
