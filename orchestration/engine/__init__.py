"""The execution engine: plan a run, run its steps, finish it.

`runs` holds what happens to a whole run (submit, plan, cancel, finish),
`steps` the life of one step, `dispatch` how work reaches a worker in each
run mode, and `recovery` the sweeper that resumes runs whose worker died.
"""
