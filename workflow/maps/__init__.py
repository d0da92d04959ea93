"""看, the shared map: GeoJSON layers checked and imported whole (``layers``) and the point router (``router``).

It may import ``workflow.core`` and ``states``.
"""
