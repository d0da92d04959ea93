"""看, the shared map: GeoJSON layers checked and imported whole (``layers``), the point router (``router``), and
the map as it is read, with where each name goes and the issues by state group (``shared``).

It may import ``workflow.core`` and ``states``.
"""
