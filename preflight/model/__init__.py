"""The shared values every stage passes along: facts, findings, job, profile, errors.

The bottom of the house: nothing here imports another preflight package.
"""
