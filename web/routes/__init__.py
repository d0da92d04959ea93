"""The API's routers, one module per resource family; each exposes ``router(access) -> APIRouter``."""
