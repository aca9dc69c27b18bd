"""A project on the wire: the chapter's Article with our project terms, which JSON-LD
expansion keeps (every term defined, nothing dropped) using only the shipped contexts."""

from __future__ import annotations

import pytest

from federation import jsonld
from federation.urls import Urls
from outbox.items import Counts, InvalidItem, Item, to_ap, validate
from tests.federation.test_jsonld_documents import expanded_properties, key_paths

BASE = "https://a.example"


def project(**changes: object) -> Item:
    item = Item(kind="project", title="Mutual-Aid Network", body="Shopping and *lifts*.",
                project_status="active", started_by="ana", language="eo")
    for name, value in changes.items():
        setattr(item, name, value)
    return item


def test_the_document_names_its_status_starter_and_participants() -> None:
    urls = Urls(BASE)
    who = [f"{BASE}/actors/ana", "https://b.example/actors/cian"]
    document = to_ap(validate(project()), f"{BASE}/objects/1", urls, "dublin",
                     "2026-11-30T10:00:00Z", counts=Counts(participants=2, participant_ids=who))
    assert document["type"] == "Article"
    assert document["attributedTo"] == f"{BASE}/actors/dublin"
    assert document["startedBy"] == f"{BASE}/actors/ana"
    assert document["projectStatus"] == "active"
    assert document["participants"] == {"type": "Collection", "totalItems": 2, "items": who}
    assert document["participantCount"] == 2
    assert document["contentMap"] == {"eo": document["content"]}

    expanded = jsonld.expand(document)
    properties = expanded_properties(expanded)
    assert sorted(p for p in properties if p.startswith("_:")) == []
    for term in ("projectStatus", "startedBy", "participants"):
        assert f"https://chapterhouse.network/ns#{term}" in properties
    assert key_paths(jsonld.compact(expanded, document["@context"])) == key_paths(document)


@pytest.mark.parametrize("status", ["", "someday", None])
def test_a_status_that_is_none_of_the_three_is_refused(status: str | None) -> None:
    with pytest.raises(InvalidItem, match="status"):
        validate(project(project_status=status))


def test_a_status_is_read_without_regard_to_case_or_spaces() -> None:
    assert validate(project(project_status=" Finished ")).project_status == "finished"
