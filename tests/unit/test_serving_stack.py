"""The API is served on uvicorn's C HTTP parser and libuv event loop, which it takes when they are installed
(``riverchief serve`` leaves both at uvicorn's "auto"): a tenth to a third less CPU a request than the pure-Python
parser and asyncio's own loop (bench/README.md, "A faster HTTP stack"). A dependency dropped from the project
would put the server back on those without a word; this says it."""

import asyncio

import uvicorn


async def _app(scope: object, receive: object, send: object) -> None:  # the config needs an app, never called
    raise AssertionError("not served")


def test_uvicorn_serves_on_httptools_and_uvloop() -> None:
    config = uvicorn.Config(_app)
    config.load()

    assert config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()
