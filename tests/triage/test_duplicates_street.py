"""The street part of the duplicate score: addresses compared across spellings, and a
different street lowers the score without vetoing a fresh, alike report at a corner."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from amtspuls.analyze.triage.duplicates import DupInput, DupParams, candidates, link, street_key


def test_street_key_folds_spellings():
    same = ["Hauptstraße 12a, 78462 Konstanz", "Hauptstr. 3", "HAUPTSTRASSE 12-14",
            "hauptstrasse 7 78462 Konstanz, Germany", "Hauptstr.7"]
    assert {street_key(a) for a in same} == {"hauptstrasse"}
    assert street_key("An der Anger 61, 12345 Musterstadt") == "an der anger"
    assert street_key("Schleyerweg 6, 78467 Konstanz, Germany") == "schleyerweg"
    assert street_key(",") == street_key("") == street_key(None) == ""


def _pair(days: float, metres: float, streets: list[str]) -> list[tuple[int, int, float]]:
    lat0, lon0 = 51.2561, 7.7483
    x = DupInput(ids=["a", "b"], t=np.array([0.0, days * 86400.0]),
                 lat=np.array([lat0, lat0 + metres / 111_320.0]), lon=np.array([lon0, lon0]),
                 cat=np.array([[1.0, 0.0], [1.0, 0.0]]),
                 text=sp.csr_matrix(np.array([[1.0, 0.0], [0.6, 0.8]])), street=streets)
    params = DupParams.load()
    return link(x, params, candidates(x, params))


def test_a_different_street_is_a_penalty_not_a_veto():
    # same kind of report, 60 m apart, two days later: one incident on one street,
    # two problems when the addresses name two streets
    assert _pair(2.0, 60, ["lindenweg", "lindenweg"])
    assert not _pair(2.0, 60, ["lindenweg", "hauptstrasse"])
    # the same hour at a corner: still one incident
    assert _pair(0.05, 30, ["lindenweg", "hauptstrasse"])
    # no address on one side: no penalty
    assert _pair(2.0, 60, ["lindenweg", ""])
