"""The daemon: APScheduler jobs, the due queue, the revisit policy and alert dispatch."""
