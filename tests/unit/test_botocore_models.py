"""One botocore data loader per process: sessions share the service models they read."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import boto3
import botocore.loaders
import botocore.session

from labkit.local import moto_patches

_COUNT_READS = textwrap.dedent("""
    import json, sys, boto3, botocore.loaders
    from labkit.local import moto_patches
    if sys.argv[1] == "shared":
        moto_patches.install(only={"labkit.local.botocore_models"})
    reads = []
    original = botocore.loaders.JSONFileLoader.load_file
    def counted(self, file_path):
        reads.append(file_path.replace("\\\\", "/"))
        return original(self, file_path)
    botocore.loaders.JSONFileLoader.load_file = counted
    for _ in range(3):
        boto3.session.Session().get_available_regions("sns")
    print(json.dumps(reads))
""")


def sns_model_reads(mode: str) -> list[str]:
    """The reads of SNS's service model by three new sessions in a fresh process."""
    done = subprocess.run([sys.executable, "-c", _COUNT_READS, mode], capture_output=True,
                          text=True, check=True)
    return [p for p in json.loads(done.stdout) if p.endswith("/sns/2010-03-31/service-2")]


def test_a_model_is_read_once_for_every_session():
    assert len(sns_model_reads("shared")) == 1


def test_without_sharing_each_session_reads_the_model_again():
    """What the module is for: if botocore ever shares models by itself, the module can go."""
    assert len(sns_model_reads("not shared")) == 3


def test_sessions_use_one_loader_whose_search_paths_do_not_grow():
    moto_patches.install(only={"labkit.local.botocore_models"})
    moto_patches.install(only={"labkit.local.botocore_models"})  # a second call changes nothing
    sessions = [boto3.session.Session(region_name="ap-northeast-2") for _ in range(3)]
    loaders = {id(s._session.get_component("data_loader")) for s in sessions}
    assert len(loaders) == 1
    (loader,) = {s._session.get_component("data_loader") for s in sessions}
    assert isinstance(loader, botocore.loaders.Loader)
    assert len(loader.search_paths) == len(set(loader.search_paths))  # boto3's folder once
    assert botocore.session.get_session().get_component("data_loader") is loader
