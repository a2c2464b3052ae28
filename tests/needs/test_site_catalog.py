"""The site's own catalogue file: URL patterns and synonyms per service."""

from __future__ import annotations

import json

from needs_helpers import SITE, cli

from amtspuls.analyze.querymap import QueryMapper
from amtspuls.catalog import load_catalog, service_for_path
from amtspuls.catalog.site import catalog_path, default_site_catalog, load_site_catalog


def test_default_catalog_follows_the_slug_rule():
    cat = default_site_catalog(SITE)
    assert len(cat.services) == len(load_catalog())
    for path in ("/leistungen/personalausweis-beantragen", "/online/kita-platz",
                 "/rathaus/aemter/buergerbuero", "/"):
        assert cat.service_for_path(path) == service_for_path(path)


def test_init_edit_and_reload(tmp_path):
    data = tmp_path / "data"
    run = cli(data, "catalog", "init", "--site", SITE, "--json")
    assert run.returncode == 0, run.stderr
    path = catalog_path(data, SITE)
    assert json.loads(run.stdout)["path"] == str(path)
    assert cli(data, "catalog", "init", "--site", SITE).returncode == 2  # exists
    text = path.read_text("utf-8")
    text = text.replace(
        '[services.personalausweis]\nname = "Personalausweis beantragen"\n'
        'department = "Bürgerbüro"\nslugs = ["personalausweis"]\npatterns = []\nterms = []',
        '[services.personalausweis]\nname = "Personalausweis beantragen"\n'
        'department = "Bürgerbüro"\nslugs = ["personalausweis"]\n'
        'patterns = ["/buergerservice/perso*"]\nterms = ["blauer lappen"]')
    text += ('\n[services.stadtfest]\nname = "Stadtfest"\ndepartment = "Kulturamt"\n'
             'slugs = ["stadtfest"]\npatterns = []\nterms = ["kirmes", "rummel"]\ncontext = []\n')
    path.write_text(text, "utf-8")
    cat = load_site_catalog(data, SITE)
    assert cat.service_for_path("/buergerservice/perso-neu.html") == "personalausweis"
    assert cat.service_for_path("/veranstaltungen/stadtfest-2026") == "stadtfest"
    mapper = QueryMapper(cat.service_list(), cat.lexicon())
    assert mapper.map("rummel")["service_id"] == "stadtfest"
    assert mapper.map("blauer lappen")["service_id"] == "personalausweis"
    run = cli(data, "map-query", "kirmes", "--site", SITE, "--json")
    assert json.loads(run.stdout)["service_id"] == "stadtfest"
