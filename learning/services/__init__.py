"""The learning loop: feedback -> learned patterns -> candidates -> A/B tests -> promotion.

`feedback` keeps people's ratings; `patterns` mines and consults learned
patterns; `abtests` assigns, measures and decides experiments; `prompts`
keeps agents' prompt versions and their scores; `jobs` runs the learning
work after a run ends, off the step's path; `stats` holds the arithmetic.
"""
