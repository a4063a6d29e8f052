"""Background work: a job table with leases, a runner, schedules."""
