"""Running learner code apart from the grader.

``host``   the sandbox host: a process that imports numpy and the probes once, then forks one
           learner process per submission (so each starts without paying for an interpreter)
``worker`` the learner's process: limits, guard, then the request/response loop
``guard``  what a learner's process may not do (a PEP 578 audit hook) and its resource limits
``client`` the grader's side: starts the host, drives learner processes, enforces timeouts
"""
