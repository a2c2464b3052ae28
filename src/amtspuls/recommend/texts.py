"""Deterministic German (and English) wording of each recommendation kind.

The text is filled only from the finding's own figures, so every sentence can be traced
to its evidence; generated wording (`recommend.llm`) is optional and shown beside it.
"""

from __future__ import annotations

from typing import Any

# kind → (German title, German action, English title, English action). Placeholders are
# filled from `Finding.params`; every kind documents its placeholders by using them.
TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "zero_results": (
        "Suchbegriffe ohne Treffer: {service}",
        "{n} Suchen nach {service} blieben ohne Treffer (z. B. {examples}). Diese Begriffe "
        "als Synonyme in der Seitensuche hinterlegen und auf der Leistungsseite verwenden.",
        "Searches without results: {service}",
        "{n} searches for {service} returned nothing (e.g. {examples}). Add these terms as "
        "search synonyms and use them on the service page.",
    ),
    "search_before_form": (
        "Viele Suchen vor dem Formular: {service}",
        "Wer das Formular {service} abschließt, sucht vorher {value} Mal (üblich: "
        "{baseline}). Die Leistung auf der Startseite und in der Navigation verlinken und "
        "die Seite mit den Suchbegriffen der Bürger betiteln.",
        "Many searches before the form: {service}",
        "People who complete the {service} form search {value} times first (usual: "
        "{baseline}). Link the service from the home page and the navigation.",
    ),
    "form_field_errors": (
        "Feld „{field}“ im Formular {service} scheitert oft",
        "{rate} der Formularstarts scheitern am Feld „{field}“ (üblich: {baseline}). "
        "Hilfetext und Beispiel am Feld überarbeiten und die Prüfung (Format, Pflichtangabe) "
        "weniger streng machen.",
        "Field “{field}” of the {service} form fails often",
        "{rate} of form starts fail at field “{field}” (usual: {baseline}). Rewrite the help "
        "text and example, relax the validation.",
    ),
    "form_abandonment": (
        "Formular {service} wird oft abgebrochen",
        "{rate} der Begonnenen brechen ab (üblich: {baseline}){step}. Den Schritt prüfen, "
        "an dem abgebrochen wird: benötigte Unterlagen vorab nennen, Schritte kürzen.",
        "The {service} form is often abandoned",
        "{rate} of those who start it give up (usual: {baseline}){step_en}. Review that step: "
        "list the documents needed up front, shorten the steps.",
    ),
    "broken_link": (
        "Defekter Link: {path}",
        "{n} Aufrufe endeten auf der Fehlerseite {path}, verlinkt von {examples}. Den Link "
        "auf diesen Seiten korrigieren oder eine Weiterleitung einrichten.",
        "Broken link: {path}",
        "{n} visits ended on the error page {path}, linked from {examples}. Fix the link on "
        "those pages or add a redirect.",
    ),
    "demand_spike": (
        "Nachfrage-Spitze: {service}",
        "{observed} statt üblicher {expected} {signal} ab {start}. Hinweis auf der "
        "Startseite, FAQ ergänzen und die Hotline informieren.",
        "Demand spike: {service}",
        "{observed} instead of the usual {expected} {signal_en} from {start}. Add a "
        "home-page notice and an FAQ, brief the hotline.",
    ),
    "form_outage": (
        "Formular {service} lehnte Anträge ab",
        "Ab {start} scheiterten {observed} Absendungen (üblich: {expected}). Formularserver "
        "und Schnittstellen prüfen, Betroffene mit einem Hinweis um erneutes Absenden bitten.",
        "The {service} form rejected submissions",
        "From {start}, {observed} submissions failed (usual: {expected}). Check the form "
        "server and its interfaces; ask those affected to submit again.",
    ),
    "forecast_peak": (
        "Mehr Nachfrage erwartet: {service}",
        "Für die Woche ab {week} werden {forecast} {signal} erwartet (zuletzt üblich: "
        "{usual}). Personal einplanen und zusätzliche Termine freigeben.",
        "Higher demand expected: {service}",
        "For the week from {week}, {forecast} {signal_en} are expected (recently: {usual}). "
        "Plan staff and open extra appointment slots.",
    ),
    "growing_topic": (
        "Wachsendes Thema ohne Inhalt: „{topic}“",
        "{n} Suchen nach „{topic}“ in der letzten Woche (vorher {baseline} pro Woche), "
        "meist ohne Treffer. Eine Seite oder Meldung zum Thema anlegen oder auf die "
        "zuständige Stelle verweisen.",
        "Growing topic without content: “{topic}”",
        "{n} searches for “{topic}” last week (before: {baseline} per week), mostly without "
        "results. Add a page or notice, or point to who is responsible.",
    ),
    "duplicate_cluster": (
        "Mehrfachmeldungen: {service}",
        "{n} Meldungen betreffen {places} bereits gemeldete Stellen (z. B. {examples}). "
        "Für diese Stellen eine öffentliche Statusmeldung („Bekannt, in Bearbeitung“) "
        "veröffentlichen, etwa auf einer Karte bekannter Mängel, und die Meldungen "
        "zusammenführen.",
        "Duplicate reports: {service}",
        "{n} reports concern {places} places already reported (e.g. {examples}). Publish "
        "a status notice (“known, being handled”) for them, e.g. on a map of known issues, "
        "and merge the reports.",
    ),
    "mobile_problem": (
        "Problem nur auf dem Smartphone: {service}",
        "Auf Mobilgeräten schließen {rate} das Formular ab, am Desktop {baseline}. Das "
        "Formular auf kleinen Bildschirmen testen (Eingabefelder, Datei-Upload, Tastatur).",
        "Mobile-only problem: {service}",
        "On mobile devices {rate} complete the form, on desktop {baseline}. Test the form "
        "on small screens (inputs, file upload, keyboard).",
    ),
    "pdf_without_online": (
        "PDF-Formular ohne Online-Dienst: {service}",
        "{n} Downloads von {path}, aber kein Online-Formular. Die Leistung online anbieten "
        "(OZG) und das PDF nur noch als Alternative verlinken.",
        "PDF form without an online service: {service}",
        "{n} downloads of {path} but no online form. Offer the service online (OZG) and "
        "keep the PDF as an alternative only.",
    ),
    "seasonal_demand": (
        "Saisonale Nachfrage steht bevor: {service}",
        "Ab {week} steigt die Nachfrage erfahrungsgemäß ({reason}). Inhalte, FAQ und "
        "Terminangebot rechtzeitig vorbereiten.",
        "Seasonal demand ahead: {service}",
        "From {week}, demand usually rises ({reason}). Prepare content, FAQ and "
        "appointments in time.",
    ),
}

KIND_LABELS: dict[str, str] = {
    "zero_results": "Suche ohne Treffer",
    "search_before_form": "Auffindbarkeit",
    "form_field_errors": "Formularfeld",
    "form_abandonment": "Formularabbruch",
    "broken_link": "Defekter Link",
    "demand_spike": "Nachfrage-Spitze",
    "form_outage": "Formularstörung",
    "forecast_peak": "Prognose",
    "growing_topic": "Neues Thema",
    "duplicate_cluster": "Mehrfachmeldungen",
    "mobile_problem": "Mobilgeräte",
    "pdf_without_online": "PDF statt online",
    "seasonal_demand": "Saison",
}


class _Safe(dict):
    """Unknown placeholders stay visible instead of failing (a template bug, not data)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(kind: str, params: dict[str, Any], lang: str = "de") -> tuple[str, str]:
    de_title, de_action, en_title, en_action = TEMPLATES[kind]
    title, action = (de_title, de_action) if lang == "de" else (en_title, en_action)
    values = _Safe({k: v for k, v in params.items()})
    return title.format_map(values), action.format_map(values)


def number_de(value: Any, digits: int = 1) -> str:
    """German number: 1.234 for whole numbers, 1.234,5 otherwise; "–" for none."""
    if value is None:
        return "–"
    x = float(value)
    s = f"{int(x):,}" if x.is_integer() else f"{x:,.{digits}f}"
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def percent_de(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return number_de(round(100 * float(value), digits), digits) + " %"


def quoted_list(items: list[str], limit: int = 3) -> str:
    shown = [f"„{s}“" for s in items[:limit]]
    return ", ".join(shown) if shown else "–"
