"""Reading: the queries and worklists the API, the pages, the CLI and the reports share; nothing here changes a row.

It may import ``workflow.core`` and ``states``; the capabilities beside it (patrols, enforcement, maps,
accounts) and the jobs above it are out of its reach, so their figures read their tables directly.
"""
