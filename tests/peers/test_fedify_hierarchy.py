"""Fedify follows a national chapter and receives, as an Announce, minutes that a local
chapter on another node posted and the national node passed on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.nodes import Node, wait_for
from tests.peers.conftest import Fedify


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    root = tmp_path_factory.mktemp("fedify-chain")
    local = Node.init(root, "local").federating()
    national = Node.init(root, "national").federating()
    assert local.cli("chapter", "create", "dublin", "--name", "IOPS Dublin",
                     "--level", "local").returncode == 0
    assert national.cli("chapter", "create", "ireland", "--name", "IOPS Ireland",
                        "--level", "national").returncode == 0
    local.start()
    national.start()
    yield local, national
    local.stop()
    national.stop()


def test_fedify_gets_the_announce_of_local_minutes(
    fedify: Fedify, pair: tuple[Node, Node]
) -> None:
    local, national = pair
    ireland = f"{national.base}/actors/ireland"
    dublin = f"{local.base}/actors/dublin"
    fedify.post("/_control/follow", {"target": ireland})
    wait_for(lambda: fedify.received("Accept"), what="Fedify's follow accepted")
    assert local.cli("chapter", "affiliate", "dublin", "--parent", ireland).returncode == 0
    wait_for(lambda: dublin in national.cli("chapter", "requests", "ireland").stdout,
             what="the Join at the national node")
    assert national.cli("chapter", "accept", "ireland", dublin).returncode == 0
    wait_for(lambda: local.sql("SELECT state FROM parents") == [("accepted",)],
             what="the Accept at the local node")

    result = local.cli("post", "minutes", "--chapter", "dublin", "--title",
                       "Minutes from Aug meeting", "--meeting-date", "2026-08-12",
                       stdin="Organising and bookfairs.")
    minutes = result.stdout.strip()
    [announce] = wait_for(lambda: [a for a in fedify.received("Announce")
                                   if a["objectId"] == minutes], timeout=30,
                          what="Fedify to get the Announce")
    assert announce["actor"] == ireland
    assert announce["verifiedBy"]["method"] in ("http-signature", "object-integrity-proof",
                                                "ld-signature")
    parsed = announce["objectParsed"]
    assert parsed["type"] == "Article"
    assert parsed["name"] == "Minutes from Aug meeting"
    assert parsed["attributedTo"] == dublin
