"""查: joint enforcement cases and litigation lead transfers.

A case is seen only by its parties (a chief or office at or above one of its jurisdictions) and the
compact's coordinators; a lead only by the side that transferred it and the coordinators. To anyone else
they do not exist (NotFound), as another compact's issue does not. Their counts, not their contents, go into
the figures and bulletins (``workflow.reading.practice``). It may import ``workflow.core`` and ``states``.
"""
