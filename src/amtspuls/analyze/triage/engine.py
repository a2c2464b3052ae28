"""Triage of service requests: category (top 3 with probabilities), priority with its
reasons, duplicates grouped into incidents, and the responsible department.

Every suggestion is stored with the model version and logged with its inputs (scrubbed
text, place, time, given service code) — suggestions for a clerk, who confirms or
corrects them (`record_review`); corrections train the next model."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from amtspuls.analyze.triage.category import CategoryModel, Doc, keyword_docs
from amtspuls.analyze.triage.config import TriageConfig, config_for
from amtspuls.analyze.triage.duplicates import (
    DupInput,
    DupParams,
    candidates,
    group_ids,
    link,
    street_key,
)
from amtspuls.analyze.triage.priority import PriorityRules
from amtspuls.analyze.triage.workload import due_date, sla_days
from amtspuls.catalog import NONE
from amtspuls.errors import UserError
from amtspuls.model import Site
from amtspuls.store.requests_store import RequestStore

# The model's top suggestion overrides the citizen's own choice of service for routing
# only when it is at least this sure.
ROUTE_OVERRIDE_P = 0.9

_MODELS: dict[tuple[str, int, str], CategoryModel] = {}
_MODELS_LOCK = threading.Lock()


def models_dir(settings) -> Path:
    return Path(settings.data_dir) / "models"


def bootstrap_model(cfg: TriageConfig, settings) -> CategoryModel:
    """The model of a site without history: trained on the catalogue's keywords."""
    key = ("bootstrap", 0, cfg.digest)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
    path = models_dir(settings) / f"bootstrap-{cfg.digest}.pkl" if settings else None
    model = None
    if path is not None and path.is_file():
        try:
            model = CategoryModel.load(path)
        except Exception:
            model = None
    if model is None:
        docs, labels = keyword_docs(cfg.services)
        model = CategoryModel.train(docs, labels, label_set="service")
        model.version = f"bootstrap-{cfg.digest}"
        if path is not None:
            with contextlib.suppress(OSError):
                model.save(path)
    with _MODELS_LOCK:
        _MODELS[key] = model
    return model


def current_model(store, site: Site, settings) -> CategoryModel:
    """The site's latest trained model, or the keyword bootstrap."""
    cfg = config_for(settings)
    row = RequestStore(store).latest_model(site.id)
    if row is None:
        return bootstrap_model(cfg, settings)
    key = (str(settings.data_dir), site.id, row["version"])
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
    path = Path(row["path"])
    if not path.is_absolute():
        path = models_dir(settings) / path
    try:
        model = CategoryModel.load(path)
    except (OSError, ValueError, EOFError):
        return bootstrap_model(cfg, settings)
    with _MODELS_LOCK:
        _MODELS[key] = model
    return model


@dataclass
class Row:
    """What triage reads of a request."""

    service_request_id: str
    text: str
    lat: float | None
    long: float | None
    requested: datetime
    service_code: str | None
    status: str = "open"
    review_service_id: str | None = None
    duplicate_group: str | None = None
    address_string: str | None = None

    @classmethod
    def from_store(cls, r: dict[str, Any]) -> Row:
        return cls(r["service_request_id"], r.get("description") or "", r.get("lat"),
                   r.get("long"), r["requested_datetime"], r.get("service_code"),
                   r.get("status") or "open", r.get("review_service_id"),
                   address_string=r.get("address_string"))


class Triage:
    def __init__(self, store, site: Site, settings, model: CategoryModel | None = None) -> None:
        self.store = store
        self.rs = RequestStore(store)
        self.site = site
        self.settings = settings
        self.cfg = config_for(settings)
        self.model = model or current_model(store, site, settings)
        self.rules = PriorityRules(self.cfg.priority)
        self.dup = DupParams.load(Path(settings.data_dir) if settings else None)
        self.catalogue = set(self.cfg.departments)

    # ------------------------------------------------------------------ pieces
    def routed_service(self, row: Row, top: list[dict[str, Any]]) -> str:
        """Clerk's decision > the citizen's service (unless the model is very sure of
        another) > the top suggestion."""
        if row.review_service_id:
            return row.review_service_id
        best = top[0]["service_id"] if top else NONE
        p = top[0]["probability"] if top else 0.0
        given = row.service_code if row.service_code in self.catalogue else None
        if given and not (best != given and p >= ROUTE_OVERRIDE_P and best in self.catalogue):
            return given
        return best if best in self.catalogue else NONE

    def _dup_input(self, rows: list[Row], probs: np.ndarray, docs: list[Doc]) -> DupInput:
        t = np.array([r.requested.replace(tzinfo=UTC).timestamp() for r in rows], dtype=float)
        lat = np.array([np.nan if r.lat is None else r.lat for r in rows], dtype=float)
        lon = np.array([np.nan if r.long is None else r.long for r in rows], dtype=float)
        return DupInput([r.service_request_id for r in rows], t, lat, lon, probs,
                        self.model.text_vectors(docs),
                        [street_key(r.address_string) for r in rows])

    def _assemble(self, rows: list[Row], tops, groups: list[str],
                  links: list[tuple[int, int, float]], as_of: datetime,
                  sizes: dict[str, int] | None = None) -> list[dict]:
        size = Counter(groups)
        if sizes:
            size.update({g: n - size[g] for g, n in sizes.items() if n > size[g]})
        partners: dict[int, list[tuple[float, int]]] = {}
        for i, j, s in links:
            partners.setdefault(i, []).append((s, j))
            partners.setdefault(j, []).append((s, i))
        out = []
        for k, row in enumerate(rows):
            top = tops[k]
            service = self.routed_service(row, top)
            overdue = False
            if row.status == "open":
                days = sla_days(self.cfg, service, None)
                overdue = due_date(self.cfg, row.requested, days, self.site.timezone) < as_of
            likely = top[0]["service_id"] if top and top[0]["probability"] >= 0.5 else None
            prio, reasons = self.rules.suggest(service, row.text, group_size=size[groups[k]],
                                               requested=row.requested, overdue=overdue,
                                               suggested=likely)
            dups = sorted(partners.get(k, ()), reverse=True)[:5]
            out.append({
                "service_request_id": row.service_request_id,
                "category": top,
                "priority": prio,
                "priority_reasons": reasons,
                "duplicate_group": groups[k],
                "duplicates": [{"service_request_id": rows[j].service_request_id, "score": s}
                               for s, j in dups],
                "department": self.cfg.department(service),
                "service_id": service,
                "model_version": self.model.version,
            })
        return out

    @staticmethod
    def _inputs(row: Row, group_size: int) -> dict[str, Any]:
        return {"text": row.text, "lat": row.lat, "long": row.long,
                "requested_datetime": row.requested.isoformat(),
                "service_code": row.service_code, "group_size": group_size}

    def _save(self, rows: list[Row], results: list[dict], log: bool) -> None:
        size = Counter(r["duplicate_group"] for r in results)
        inputs = [self._inputs(row, size[res["duplicate_group"]])
                  for row, res in zip(rows, results, strict=True)] if log else None
        self.rs.save_triage(self.site.id, results, inputs)
        self.rs.set_service(self.site.id, [(r["service_request_id"], r["service_id"],
                                            r["department"]) for r in results])

    # ------------------------------------------------------------------ runs
    def run_all(self, as_of: datetime | None = None, save: bool = True, log: bool = True
                ) -> list[dict]:
        """Triage every request of the site (incidents over the whole history)."""
        as_of = as_of or datetime.now(UTC).replace(tzinfo=None)
        rows = [Row.from_store(r) for r in self.rs.analysis_rows(self.site.id)]
        if not rows:
            return []
        results = self.triage_rows(rows, as_of)
        if save:
            self._save(rows, results, log)
        return results

    def triage_rows(self, rows: list[Row], as_of: datetime) -> list[dict]:
        docs = [Doc(r.text, r.lat, r.long) for r in rows]
        probs_all = self.model.predict_proba(docs)
        tops = _tops(probs_all, self.model.classes)
        x = self._dup_input(rows, probs_all, docs)
        links = link(x, self.dup, candidates(x, self.dup))
        groups = group_ids(x, links)
        return self._assemble(rows, tops, groups, links, as_of)

    def run_new(self, ids: list[str], as_of: datetime | None = None, save: bool = True
                ) -> list[dict]:
        """Triage just-stored requests against the site's recent requests nearby: a new
        report joins an incident of the last `window_days` within `radius_m`, or starts
        one. Only the new requests (and the members of incidents they join) are
        re-assessed, so one request takes milliseconds."""
        as_of = as_of or datetime.now(UTC).replace(tzinfo=None)
        new_rows = [Row.from_store(r) for r in self.rs.analysis_rows(self.site.id, ids=ids)]
        if not new_rows:
            return []
        since = min(r.requested for r in new_rows) - timedelta(days=self.dup.window_days)
        wanted = set(ids)
        near = self._near(new_rows)
        earlier = [Row.from_store(r) for r in self.rs.analysis_rows(
            self.site.id, since=since, bbox=near) if r["service_request_id"] not in wanted]
        known = self.rs.triage_of(self.site.id, [r.service_request_id for r in earlier])
        rows = earlier + new_rows
        docs = [Doc(r.text, r.lat, r.long) for r in rows]
        probs = np.zeros((len(rows), len(self.model.classes)))
        tops: list[list[dict]] = [[] for _ in rows]
        # stored suggestions are reused for earlier requests (same model version)
        need = []
        for k, r in enumerate(earlier):
            t = known.get(r.service_request_id)
            if t and t["model_version"] == self.model.version:
                tops[k] = t["category"]
                for c in t["category"]:
                    if c["service_id"] in self.model.classes:
                        probs[k, self.model.classes.index(c["service_id"])] = c["probability"]
            else:
                need.append(k)
        need.extend(range(len(earlier), len(rows)))
        p = self.model.predict_proba([docs[k] for k in need])
        probs[need] = p
        for k, top in zip(need, _tops(p, self.model.classes), strict=True):
            tops[k] = top
        x = self._dup_input(rows, probs, docs)
        new_idx = np.arange(len(earlier), len(rows))
        anchors: dict[int, bool] = {}
        group_of: dict[int, str] = {}
        for k, r in enumerate(earlier):
            g = known.get(r.service_request_id, {}).get("duplicate_group") or r.service_request_id
            anchors[k] = g == r.service_request_id
            group_of[k] = g
        links = link(x, self.dup, candidates(x, self.dup, new_idx), anchors)
        for k in new_idx.tolist():
            group_of[k] = rows[k].service_request_id
        for i, j, _ in sorted(links, key=lambda lk: (x.t[lk[1]], lk[1])):
            group_of[j] = group_of[i]
        grown = {group_of[k] for k in new_idx.tolist()}
        # group sizes over the whole site (members outside the neighbourhood count too)
        sizes = self.rs.group_sizes(self.site.id, sorted(grown))
        extra = Counter(group_of[k] for k in new_idx.tolist())
        touched = [k for k in range(len(earlier)) if group_of[k] in grown
                   and known.get(rows[k].service_request_id)]
        pick = touched + new_idx.tolist()
        sub_rows = [rows[k] for k in pick]
        sub_groups = [group_of[k] for k in pick]
        remap = {k: n for n, k in enumerate(pick)}
        sub_links = [(remap[i], remap[j], s) for i, j, s in links if i in remap and j in remap]
        size_of = {g: sizes.get(g, 0) + extra[g] for g in grown}
        results = self._assemble(sub_rows, [tops[k] for k in pick], sub_groups, sub_links,
                                 as_of, size_of)
        n_old = len(touched)
        if save:  # one transaction: the new suggestions and the updated incident members
            self._save(sub_rows, results, log=True)
        return results[n_old:]

    def _near(self, rows: list[Row]) -> tuple[float, float, float, float] | None:
        """A box around the new requests' locations, one radius wide."""
        pts = [(r.lat, r.long) for r in rows if r.lat is not None and r.long is not None]
        if not pts:
            return None
        lat = np.array([p[0] for p in pts])
        lon = np.array([p[1] for p in pts])
        dlat = self.dup.radius_m / 111_320.0 * 1.05
        dlon = dlat / max(0.05, float(np.cos(np.radians(lat.mean()))))
        return (float(lat.min() - dlat), float(lat.max() + dlat), float(lon.min() - dlon),
                float(lon.max() + dlon))


def _tops(probs: np.ndarray, classes: list[str], k: int = 3) -> list[list[dict[str, Any]]]:
    out = []
    for row in probs:
        order = np.argsort(-row, kind="stable")[:k]
        out.append([{"service_id": classes[j], "probability": round(float(row[j]), 4)}
                    for j in order])
    return out


def public_view(result: dict[str, Any]) -> dict[str, Any]:
    """The documented triage object (CLI `--json`, API field `triage`)."""
    return {k: result.get(k) for k in ("service_request_id", "category", "priority",
                                       "priority_reasons", "duplicate_group", "duplicates",
                                       "department")}


def record_review(store, site: Site, request_id: str, decision: str, *,
                  service_id: str | None = None, priority: int | None = None,
                  duplicate_of: str | None = None, reviewer: str | None = None,
                  note: str | None = None, settings=None) -> dict[str, Any]:
    """A clerk confirms or corrects the suggestion; the request is routed accordingly and
    the decision is used at the next training."""
    rs = RequestStore(store)
    req = rs.get_request(site.id, request_id)
    if req is None:
        raise LookupError(request_id)
    if decision not in ("confirm", "correct"):
        raise UserError("decision must be confirm or correct")
    cfg = config_for(settings)
    if service_id is not None and service_id not in cfg.departments:
        raise UserError(f"unknown service_id {service_id!r}")
    if priority is not None and priority not in (1, 2, 3, 4):
        raise UserError("priority must be 1, 2, 3 or 4")
    if decision == "correct" and service_id is None and priority is None and duplicate_of is None:
        raise UserError("a correction needs service_id, priority or duplicate_of")
    suggested = rs.triage_of(site.id, [request_id]).get(request_id)
    if decision == "confirm" and service_id is None:
        service_id = req["service_id"]
    rs.add_review(site.id, request_id, decision, service_id=service_id, priority=priority,
                  duplicate_of=duplicate_of, reviewer=reviewer, note=note,
                  suggested=suggested)
    if service_id:
        rs.set_service(site.id, [(request_id, service_id, cfg.department(service_id))])
    return {"service_request_id": request_id, "decision": decision, "service_id": service_id,
            "priority": priority, "duplicate_of": duplicate_of,
            "department": cfg.department(service_id) if service_id else None}


def today_utc() -> date:
    return datetime.now(UTC).date()
