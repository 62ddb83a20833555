"""Checking: resolve a job, load the config, evaluate it against a profile: the one verdict.

``check`` (the library's `preflight.check`), ``collect`` and ``read_jobs`` live in
`preflight.checking.check`; the rule engine in `preflight.checking.evaluate`; configuration
discovery in `preflight.checking.config`; the jobs-file reader in `preflight.checking.jobsfile`.
"""
