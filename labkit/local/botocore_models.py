"""One botocore data loader for every session of a process: each service model read once.

botocore reads a service's model (EC2's is 3 MB of JSON) once per session. moto makes a
session of its own each time it lists a service's regions, which is the first time any of the
lab's services is used in the local cloud: EC2's first call cost a second, a third of it
reading models again. The test processes make a session per lab and per mock as well. The
models are read-only data, so sharing them changes nothing anyone sees.
"""

from __future__ import annotations

import functools

import botocore.loaders


class _OncePaths(list):
    """A loader's search paths, to which boto3 adds its own folder once, not per session."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.lru_cache(maxsize=None)
def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    """``botocore.session.create_loader``: one data loader per search path for the whole process
    (``labkit.local.moto_patches`` installs it), so every session shares the models it read."""
    loader = botocore.loaders.create_loader(search_path_string)
    loader._search_paths = _OncePaths(loader.search_paths)
    return loader
