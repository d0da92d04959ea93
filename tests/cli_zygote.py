"""A process that has imported the ``riverchief`` command and forks a fresh copy of itself for each command a test
runs, so that the suite's few hundred commands do not each spend a second and a half starting Python and
importing the application.

Started by ``tests.factories.Cli`` as ``python tests/cli_zygote.py SOCKET``; it prints ``ready`` once it
listens. Each connection sends one JSON request (``args``, ``env``, ``cwd``, ``input``) and half-closes; a child
forked for it says its pid on a line (to be killed if it overruns), takes the request's environment and folder,
runs ``riverchief.cli.main`` with ``input`` on its standard input and its output in files, and answers
``{"returncode", "stdout", "stderr"}`` (the output's bytes as latin-1, so JSON carries them whole). The child
is a new process as a command started by hand is: the parent only imported modules, so nothing a command
does reaches the next.

What a whole process checks (which modules a command imports, how fast it starts) is tested with real
processes: ``tests/e2e/test_cli_startup.py`` and ``bench/startup.py``.
"""

import atexit
import importlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
import traceback

# What most commands import, imported once: the command line, the tables, the statechart, both dialects.
PRELOADED = (
    "riverchief.cli",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.sqlite",
    "workflow.core.models",
    "workflow.reading.issues",
)


def _child(conn: socket.socket, listening: socket.socket) -> None:
    """Run one command in this forked child and answer on ``conn``; never returns."""
    code = 70
    try:
        listening.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command may wait for processes of its own
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        request = json.loads(b"".join(chunks))
        conn.sendall(f"{os.getpid()}\n".encode())
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        time.tzset()
        folder = tempfile.mkdtemp(prefix="cli-")
        paths = [os.path.join(folder, name) for name in ("stdout", "stderr")]
        given = os.path.join(folder, "stdin")
        with open(given, "wb") as f:
            f.write(request["input"].encode())
        os.dup2(os.open(given, os.O_RDONLY), 0)
        for fd, path in zip((1, 2), paths, strict=True):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        sys.argv = [request["argv0"], *request["args"]]
        from riverchief.cli import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            code = 1
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        outputs = []
        for path in paths:
            with open(path, "rb") as f:
                outputs.append(f.read().decode("latin-1"))
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
        answer = {"returncode": code, "stdout": outputs[0], "stderr": outputs[1]}
        conn.sendall(json.dumps(answer).encode())
        conn.close()
    finally:
        os._exit(code)


def main() -> None:
    path = sys.argv[1]
    for module in PRELOADED:
        importlib.import_module(module)
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(path)
    listening.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print("ready", flush=True)
    while True:
        conn, _ = listening.accept()
        if os.fork() == 0:
            _child(conn, listening)
        conn.close()


if __name__ == "__main__":
    main()
