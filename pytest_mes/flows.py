"""The flows and transactions of the CI-SIS server actors that a test can name (`requirements[].transaction`).

CapabilityStatements list resources, interactions and search parameters, but not the flows of the IGs'
pages nor the IHE transactions: those are stated here, with where each is defined.
"""

from __future__ import annotations

from dataclasses import dataclass

GAP = "https://interop.esante.gouv.fr/ig/fhir/gap"
PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm"


@dataclass(frozen=True)
class Flow:
    id: str
    actor: str  # the server CapabilityStatement id that plays it
    title: str
    url: str


FLOWS: tuple[Flow, ...] = (
    Flow("GAP-1a", "GAP-GestionnaireRessources", "Création d'une ressource", f"{GAP}/flux-1a.html"),
    Flow("GAP-1b", "GAP-GestionnaireRessources", "Mise à jour d'une ressource", f"{GAP}/flux-1b.html"),
    Flow("GAP-1c", "GAP-GestionnaireRessources", "Suppression d'une ressource", f"{GAP}/flux-1c.html"),
    Flow("GAP-2a", "GAP-GestionnaireAgenda", "Création d'un agenda", f"{GAP}/flux-2a.html"),
    Flow("GAP-2b", "GAP-GestionnaireAgenda", "Mise à jour d'un agenda", f"{GAP}/flux-2b.html"),
    Flow("GAP-2c", "GAP-GestionnaireAgenda", "Suppression d'un agenda", f"{GAP}/flux-2c.html"),
    Flow("GAP-3a", "GAP-GestionnaireAgenda", "Création d'une disponibilité", f"{GAP}/flux-3a.html"),
    Flow("GAP-3b", "GAP-GestionnaireAgenda", "Mise à jour d'une disponibilité", f"{GAP}/flux-3b.html"),
    Flow("GAP-3c", "GAP-GestionnaireAgenda", "Suppression d'une disponibilité", f"{GAP}/flux-3c.html"),
    Flow("GAP-4a", "GAP-GestionnaireAgenda", "Recherche de disponibilités", f"{GAP}/flux-4a.html"),
    Flow("GAP-4b", "GAP-GestionnaireAgenda", "Recherche de rendez-vous", f"{GAP}/flux-4b.html"),
    Flow("GAP-5a", "GAP-GestionnaireAgenda", "Réponse: disponibilités (gap-bundle-reponse-demande-consult-dispo)",
         f"{GAP}/flux-5a.html"),
    Flow("GAP-5b", "GAP-GestionnaireAgenda", "Réponse: rendez-vous (gap-bundle-reponse-demande-consult-rdv)",
         f"{GAP}/flux-5b.html"),
    Flow("GAP-6a", "GAP-GestionnaireAgenda", "Création d'un rendez-vous", f"{GAP}/flux-6a.html"),
    Flow("GAP-6b", "GAP-GestionnaireAgenda", "Mise à jour d'un rendez-vous (update conditionnel)",
         f"{GAP}/flux-6b.html"),
    Flow("ITI-65", "PDSm-GestionnaireDePartageDeDocuments", "Provide Document Bundle (flux 01/02)",
         f"{PDSM}/st_alimentation.html"),
    Flow("PDSm-03", "PDSm-GestionnaireDePartageDeDocuments",
         "Mise à jour des métadonnées: PATCH conditionnel (flux 03/04)", f"{PDSM}/st_maj_metadonnees.html"),
    Flow("ITI-66", "PDSm-GestionnaireDePartageDeDocuments", "Find Document Lists (flux 05-a/06-a)",
         f"{PDSM}/st_consultation.html"),
    Flow("ITI-67", "PDSm-GestionnaireDePartageDeDocuments", "Find Document References (flux 05-b/06-b)",
         f"{PDSM}/st_consultation.html"),
    Flow("ITI-68", "PDSm-GestionnaireDePartageDeDocuments", "Retrieve Document (flux 07/08)",
         f"{PDSM}/st_consultation.html"),
    Flow("ITI-105", "PDSm-GestionnaireDePartageDeDocuments", "Simplified Publish (flux 09/10)",
         f"{PDSM}/st_alimentation.html"),
)
FLOW_IDS = tuple(flow.id for flow in FLOWS)
