"""Seed data: a small, realistic and reproducible French dataset conforming to the profiles.

Fictitious people and structures (all identifiers are test values: INS-NIR-TEST for patients,
RPPS and FINESS numbers that belong to nobody), modelled on the official examples of FR Core,
GAP, PDSm and the Annuaire. Ids are stable; Slots and Appointments are placed on the working days
of the coming weeks relative to the day the store is seeded (Europe/Paris time), so availability
searches always find free slots. `SEED_IDS` lists what test-set authors can rely on.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from pytest_mes.sandbox.params import DESIGNATION_TYPE_URL, IS_ARCHIVED_URL, MHD_LIST_TYPES, SOURCE_ID_URL
from pytest_mes.sandbox.pdsm import sha1_base64
from pytest_mes.sandbox.store import Store

PARIS = ZoneInfo("Europe/Paris")

FR_CORE = "https://hl7.fr/ig/fhir/core/StructureDefinition/"
FR_CORE_CS = "https://hl7.fr/ig/fhir/core/CodeSystem/"
ANNUAIRE = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/"
GAP = "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/"
PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
NOS = "https://mos.esante.gouv.fr/NOS/"
R38 = NOS + "TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
V2_0203 = FR_CORE_CS + "fr-core-cs-v2-0203"
# FR Core 2.1.0 (pinned by PDSm) and 2.2.0 bind INSEE codes to the CommuneOM code system.
COMMUNE = NOS + "TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
SANDBOX_SYSTEM = "https://sandbox.pytest-mes.fr/"
INS_NIR_TEST = "urn:oid:1.2.250.1.213.1.4.10"

SPECIALTIES = {"SM54": "Médecine générale (SM)", "SM04": "Cardiologie et maladies vasculaires (SM)",
               "SM15": "Dermatologie et vénéréologie (SM)"}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


def _specialty(code: str) -> dict[str, Any]:
    return _concept(R38, code, SPECIALTIES[code])


def _meta(profile: str) -> dict[str, Any]:
    return {"profile": [profile]}


def _insee_address(line: str, postal: str, city: str, insee: str) -> dict[str, Any]:
    return {
        "extension": [{"url": FR_CORE + "fr-core-address-insee-code",
                       "valueCoding": _coding(COMMUNE, insee)}],
        "use": "work", "type": "both", "line": [line], "city": city, "postalCode": postal, "country": "FRA",
    }


# -- Annuaire: organizations, practitioners, roles --------------------------------------------

ORGANIZATIONS = [
    # id, name, FINESS, city data, secteur
    ("org-cds-pasteur", "Centre de santé Pasteur", "690000133",
     ("12 rue Pasteur", "69007", "Lyon", "69387"), "SA05"),
    ("org-clinique-parc", "Clinique du Parc", "440000271",
     ("3 allée du Parc", "44000", "Nantes", "44109"), "SA07"),
]

PRACTITIONERS = [
    # id, RPPS, family, given, prefix, specialty, organization, location
    ("pr-martin", "10003618042", "MARTIN", "Sophie", "MME", "SM54", "org-cds-pasteur", "loc-pasteur-rdc"),
    ("pr-bernard", "10003622153", "BERNARD", "Julien", "M", "SM04", "org-clinique-parc", "loc-parc-cardio"),
    ("pr-petit", "10003627782", "PETIT", "Claire", "MME", "SM15", "org-cds-pasteur", "loc-pasteur-etage1"),
]


def organization(id_: str, name: str, finess: str, address: tuple[str, str, str, str], sector: str) -> dict:
    def org_type(kind: str, system: str, code: str) -> dict[str, Any]:
        return {"extension": [{"url": ANNUAIRE + "as-ext-organization-types", "valueCode": kind}],
                "coding": [_coding(system, code)]}

    return {
        "resourceType": "Organization", "id": id_, "meta": _meta(ANNUAIRE + "as-organization"),
        "language": "fr",
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/organization-period",
                       "valuePeriod": {"start": "2015-01-01"}}],
        "identifier": [
            {"use": "official", "type": _concept(V2_0203, "IDNST"), "system": "urn:oid:1.2.250.1.71.4.2.2",
             "value": "1" + finess},
            {"use": "official", "type": _concept(V2_0203, "FINEG"), "system": "https://finess.esante.gouv.fr",
             "value": finess},
        ],
        "active": True,
        "type": [
            org_type("organizationType", FR_CORE_CS + "fr-core-cs-v2-3307", "GEOGRAPHICAL-ENTITY"),
            org_type("secteurActiviteRASS", NOS + "TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite", sector),
        ],
        "name": name,
        "telecom": [{"system": "phone", "value": "0400000000", "use": "work"}],
        "address": [_insee_address(*address)],
    }


def practitioner(id_: str, rpps: str, family: str, given: str, prefix: str, specialty: str) -> dict:
    return {
        "resourceType": "Practitioner", "id": id_, "meta": _meta(ANNUAIRE + "as-practitioner"),
        "language": "fr",
        "identifier": [
            {"use": "official", "type": _concept(V2_0203, "IDNPS"), "system": "urn:oid:1.2.250.1.71.4.2.1",
             "value": "8" + rpps},
            {"use": "official", "type": _concept(V2_0203, "RPPS"), "system": "https://rpps.esante.gouv.fr",
             "value": rpps},
        ],
        "active": True,
        "name": [{"use": "usual", "family": family, "given": [given], "prefix": [prefix], "suffix": ["DR"]}],
        "telecom": [{"system": "phone", "value": "0600000000", "use": "work"}],
        "qualification": [
            {"code": {"coding": [_coding(NOS + "TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante", "10"),
                                 _coding(NOS + "TRE_R09-CategorieProfessionnelle/FHIR/"
                                         "TRE-R09-CategorieProfessionnelle", "C")]}},
            {"code": {"coding": [_coding(R38, specialty, SPECIALTIES[specialty])]}},
        ],
        "communication": [_concept(NOS + "TRE_G00-Langue/FHIR/TRE-G00-Langue", "fr")],
    }


def practitioner_role(pr_id: str, rpps: str, specialty: str, org: str, loc: str) -> dict:
    return {
        "resourceType": "PractitionerRole", "id": "role-" + pr_id[3:],
        "meta": _meta(ANNUAIRE + "as-practitionerrole"), "language": "fr",
        "identifier": [{"use": "official", "system": "https://rpps.esante.gouv.fr", "value": f"{rpps}-{org}"}],
        "active": True,
        "practitioner": {"reference": f"Practitioner/{pr_id}"},
        "organization": {"reference": f"Organization/{org}"},
        "code": [_concept(NOS + "TRE_R22-GenreActivite/FHIR/TRE-R22-GenreActivite", "GENR01"),
                 _concept(NOS + "TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice", "S")],
        "specialty": [_specialty(specialty)],
        "location": [{"reference": f"Location/{loc}"}],
        "telecom": [{"system": "phone", "value": "0400000001", "use": "work"}],
    }


LOCATIONS = [
    ("loc-pasteur-rdc", "Centre de santé Pasteur - Rez-de-chaussée", "org-cds-pasteur",
     ("12 rue Pasteur", "69007", "Lyon", "69387"), (45.7485, 4.8420)),
    ("loc-pasteur-etage1", "Centre de santé Pasteur - 1er étage", "org-cds-pasteur",
     ("12 rue Pasteur", "69007", "Lyon", "69387"), (45.7485, 4.8420)),
    ("loc-parc-cardio", "Clinique du Parc - Plateau de cardiologie", "org-clinique-parc",
     ("3 allée du Parc", "44000", "Nantes", "44109"), (47.2184, -1.5536)),
]


def location(id_: str, name: str, org: str, address: tuple[str, str, str, str], pos: tuple[float, float]) -> dict:
    line, postal, city, _insee = address
    return {
        "resourceType": "Location", "id": id_, "meta": _meta(FR_CORE + "fr-core-location"),
        "identifier": [{"use": "official", "type": _concept(FR_CORE_CS + "fr-core-cs-location-identifier-type",
                                                            "INTRN", "Identifiant interne"),
                        "system": SANDBOX_SYSTEM + "location", "value": id_}],
        "status": "active", "name": name, "mode": "instance",
        "address": {"use": "work", "line": [line], "city": city, "postalCode": postal, "country": "FRA"},
        "position": {"latitude": pos[0], "longitude": pos[1]},
        "managingOrganization": {"reference": f"Organization/{org}"},
    }


def healthcare_services() -> list[dict]:
    def service(id_: str, name: str, org: str, loc: str, specialty: str, minutes: int) -> dict:
        return {
            "resourceType": "HealthcareService", "id": id_, "meta": _meta(FR_CORE + "fr-core-healthcare-service"),
            "extension": [{"url": FR_CORE + "fr-core-service-type-duration", "extension": [
                {"url": "serviceType", "valueCodeableConcept": _specialty(specialty)},
                {"url": "duration", "valueDuration": {"value": minutes, "unit": "min",
                                                      "system": "http://unitsofmeasure.org", "code": "min"}},
            ]}],
            "identifier": [{"use": "official", "system": SANDBOX_SYSTEM + "healthcareservice", "value": id_}],
            "active": True, "providedBy": {"reference": f"Organization/{org}"},
            "type": [_specialty(specialty)], "specialty": [_specialty(specialty)],
            "location": [{"reference": f"Location/{loc}"}], "name": name, "appointmentRequired": True,
        }

    return [
        service("hs-pasteur-mg", "Consultations de médecine générale", "org-cds-pasteur", "loc-pasteur-rdc",
                "SM54", 30),
        service("hs-parc-cardio", "Consultations de cardiologie", "org-clinique-parc", "loc-parc-cardio",
                "SM04", 30),
    ]


# -- patients ---------------------------------------------------------------------------------

PATIENTS = [
    # id, INS-NIR-TEST, family, given, birth-list given names, gender, birthDate, birthplace INSEE, city
    ("pat-dupont", "285037511604233", "DUPONT", "Camille", "Camille Marie", "female", "1985-03-12", "75111",
     "Paris 11e Arrondissement"),
    ("pat-moreau", "179061305512365", "MOREAU", "Lucas", "Lucas Jean", "male", "1979-06-02", "13055", "Marseille"),
    ("pat-lefebvre", "212084410931106", "LEFEBVRE", "Chloé", "Chloé", "female", "2012-08-21", "44109", "Nantes"),
]


def patient(id_: str, nir: str, family: str, given: str, birth_given: str, gender: str, birth: str,
            insee: str, city: str) -> dict:
    return {
        # fr-core-patient, not fr-core-patient-ins: FR Core 2.0.1 (pinned by GAP) and 2.1.0 (pinned by
        # PDSm) bind the birthplace INSEE code, 1..1 in -ins, to different code systems, so no patient
        # can conform to -ins in both; the INS-NIR-TEST identifier and identity status are kept.
        "resourceType": "Patient", "id": id_, "meta": _meta(FR_CORE + "fr-core-patient"),
        "extension": [
            {"url": FR_CORE + "fr-core-identity-reliability", "extension": [
                {"url": "identityStatus", "valueCoding": _coding(FR_CORE_CS + "fr-core-cs-v2-0445", "VALI",
                                                                  "Identité validée")}]},
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueAddress": {
                "city": city, "district": f"INSEE {insee}", "country": "FRA"}},
        ],
        "identifier": [
            {"use": "official", "type": _concept(V2_0203, "INS-NIR-TEST"), "system": INS_NIR_TEST, "value": nir},
        ],
        "active": True,
        "name": [{"extension": [{"url": FR_CORE + "fr-core-patient-birth-list-given-name", "valueString": birth_given}],
                  "use": "official", "family": family, "given": [given]}],
        "telecom": [{"system": "phone", "value": "0612345678", "use": "mobile"}],
        "gender": gender,
        "birthDate": birth,
    }


def related_person() -> dict:
    return {
        "resourceType": "RelatedPerson", "id": "rp-lefebvre-mere",
        "meta": _meta(FR_CORE + "fr-core-related-person"),
        "identifier": [{"use": "usual", "system": SANDBOX_SYSTEM + "relatedperson", "value": "RP-0001"}],
        "active": True,
        "patient": {"reference": "Patient/pat-lefebvre"},
        "relationship": [_concept(NOS + "TRE_R216-HL7RoleCode/FHIR/TRE-R216-HL7RoleCode", "MTH", "Mère")],
        "name": [{"use": "usual", "family": "LEFEBVRE", "given": ["Nathalie"]}],
        "telecom": [{"system": "phone", "value": "0687654321", "use": "mobile"}],
        "address": [{"use": "home", "line": ["8 rue Crébillon"], "city": "Nantes", "postalCode": "44000",
                     "country": "FRA"}],
    }


def device() -> dict:
    return {
        "resourceType": "Device", "id": "dev-ecg-parc",
        "identifier": [{"system": SANDBOX_SYSTEM + "device", "value": "ECG-PARC-01"}],
        "status": "active", "manufacturer": "Cardiolab", "modelNumber": "CL-1200",
        "deviceName": [{"name": "Électrocardiographe salle 2", "type": "user-friendly-name"}],
        "type": {"coding": [{"system": "http://snomed.info/sct", "code": "706767009",
                             "display": "Electrocardiograph"}], "text": "Électrocardiographe"},
        "owner": {"reference": "Organization/org-clinique-parc"},
        "location": {"reference": "Location/loc-parc-cardio"},
    }


# -- agenda: schedules, slots, appointments ---------------------------------------------------

def working_days(start: date, count: int) -> list[date]:
    days, current = [], start
    while len(days) < count:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days.append(current)
    return days


def _instant(day: date, hour: int, minute: int) -> str:
    return datetime.combine(day, time(hour, minute), PARIS).isoformat()


def schedule(pr_id: str, specialty: str, days: list[date]) -> dict:
    short = pr_id[3:]
    return {
        "resourceType": "Schedule", "id": f"sched-{short}", "meta": _meta(GAP + "gap-fr-schedule"),
        "extension": [
            {"url": FR_CORE + "fr-core-schedule-availability-time", "extension": [
                {"url": "identifier", "valueIdentifier": {"system": SANDBOX_SYSTEM + "availability",
                                                          "value": f"dispo-{short}"}},
                {"url": "type", "valueCoding": _coding(FR_CORE_CS + "fr-core-cs-schedule-type", "free",
                                                       "Disponibilité")},
                {"url": "start", "valueDateTime": _instant(days[0], 9, 0)},
                {"url": "end", "valueDateTime": _instant(days[-1], 12, 0)},
            ]},
            {"url": FR_CORE + "fr-core-service-type-duration", "extension": [
                {"url": "serviceType", "valueCodeableConcept": _specialty(specialty)},
                {"url": "duration", "valueDuration": {"value": 30, "unit": "min", "system": "http://unitsofmeasure.org",
                                                      "code": "min"}},
            ]},
        ],
        "identifier": [{"use": "usual", "system": SANDBOX_SYSTEM + "schedule", "value": f"AGENDA-{short.upper()}"}],
        "active": True,
        "specialty": [_specialty(specialty)],
        "actor": [{"reference": f"PractitionerRole/role-{short}"}, {"reference": f"Practitioner/{pr_id}"}],
        "planningHorizon": {"start": _instant(days[0], 0, 0), "end": _instant(days[-1], 23, 59)},
        "comment": "Consultations du matin, créneaux de 30 minutes",
    }


SLOT_TIMES = [(9, 0), (9, 30), (10, 0), (10, 30), (11, 0), (11, 30)]


def slots(pr_id: str, specialty: str, days: list[date]) -> list[dict]:
    short = pr_id[3:]
    found = []
    for day in days:
        for hour, minute in SLOT_TIMES:
            id_ = f"slot-{short}-{day:%Y%m%d}-{hour:02d}{minute:02d}"
            end_h, end_m = (hour, minute + 30) if minute == 0 else (hour + 1, 0)
            # Each Wednesday 11:30 is blocked (staff meeting): a realistic busy-unavailable slot.
            status = "busy-unavailable" if day.weekday() == 2 and (hour, minute) == (11, 30) else "free"
            found.append({
                "resourceType": "Slot", "id": id_, "meta": _meta(GAP + "gap-fr-slot"),
                "identifier": [{"use": "usual", "system": SANDBOX_SYSTEM + "slot", "value": id_}],
                "specialty": [_specialty(specialty)],
                "schedule": {"reference": f"Schedule/sched-{short}"},
                "status": status,
                "start": _instant(day, hour, minute),
                "end": _instant(day, end_h, end_m),
            })
    return found


def appointment(id_: str, number: str, status: str, slot: dict, pr_id: str, patient_id: str,
                created: date, specialty: str) -> dict:
    short = pr_id[3:]
    return {
        "resourceType": "Appointment", "id": id_, "meta": _meta(GAP + "gap-fr-appointment"),
        "extension": [{"url": FR_CORE + "fr-core-appointment-operator",
                       "valueReference": {"reference": f"Patient/{patient_id}"}}],
        "identifier": [{"system": SANDBOX_SYSTEM + "appointment", "value": number}],
        "status": status,
        "specialty": [_specialty(specialty)],
        "priority": 5,
        "description": "Consultation de suivi",
        "start": slot["start"], "end": slot["end"], "minutesDuration": 30,
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "created": created.isoformat(),
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "required": "required", "status": "accepted"},
            {"actor": {"reference": f"PractitionerRole/role-{short}"}, "required": "required", "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{pr_id}"}, "required": "required", "status": "accepted"},
        ],
    }


# -- PDSm: documents ----------------------------------------------------------------------------

_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
        b"endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

DOCUMENTS = [
    # id, patient, author, type (LOINC), title, contentType, content, days before seeding, uuid suffix
    ("doc-dupont-cr-consult", "pat-dupont", "pr-martin", ("11488-4", "Compte rendu de consultation"),
     "Compte rendu de consultation de médecine générale", "text/plain",
     b"Compte rendu de consultation - Mme Camille DUPONT\nExamen clinique normal. Pas de traitement.\n",
     20, "0001"),
    ("doc-dupont-ordonnance", "pat-dupont", "pr-martin", ("57833-6", "Prescription de produits de santé"),
     "Ordonnance", "application/pdf", _PDF, 20, "0002"),
    ("doc-moreau-cr-cardio", "pat-moreau", "pr-bernard", ("11488-4", "Compte rendu de consultation"),
     "Compte rendu de consultation de cardiologie", "application/pdf", _PDF, 45, "0003"),
]


def _contained_practitioner(pr_id: str) -> dict:
    """The author of a document, contained (PDSm: author aggregation `contained`)."""
    _id, rpps, family, given, prefix, *_ = next(p for p in PRACTITIONERS if p[0] == pr_id)
    return {
        "resourceType": "Practitioner", "id": "author",
        "identifier": [{"use": "official", "type": _concept(V2_0203, "RPPS"), "system": "https://rpps.esante.gouv.fr",
                        "value": rpps}],
        "name": [{"use": "usual", "family": family, "given": [given], "prefix": [prefix], "suffix": ["DR"]}],
    }


def _contained_author(pr_id: str, org: str) -> dict:
    return {
        "resourceType": "PractitionerRole", "id": "author",
        "practitioner": {"reference": f"Practitioner/{pr_id}"},
        "organization": {"reference": f"Organization/{org}"},
    }


def _contained_patient(p: tuple) -> dict:
    _id, nir, family, given, _bg, gender, birth, *_ = p
    return {
        "resourceType": "Patient", "id": "patient",
        "identifier": [{"use": "official", "type": _concept(V2_0203, "INS-NIR-TEST"), "system": INS_NIR_TEST,
                        "value": nir}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender, "birthDate": birth,
    }


def documents(today: date) -> list[dict]:
    patients = {p[0]: p for p in PATIENTS}
    practitioner_org = {p[0]: p[6] for p in PRACTITIONERS}
    resources: list[dict] = []
    for doc_id, pat, pr_id, (loinc, loinc_display), title, ctype, content, age, suffix in DOCUMENTS:
        org = practitioner_org[pr_id]
        when = datetime.combine(today - timedelta(days=age), time(10, 0), PARIS)
        binary_id = "bin-" + doc_id[4:]
        resources.append({"resourceType": "Binary", "id": binary_id, "contentType": ctype,
                          "data": base64.b64encode(content).decode("ascii")})
        resources.append({
            "resourceType": "DocumentReference", "id": doc_id,
            "meta": _meta(PDSM + "pdsm-comprehensive-document-reference"),
            "contained": [_contained_practitioner(pr_id), _contained_patient(patients[pat])],
            "extension": [{"url": IS_ARCHIVED_URL, "valueBoolean": False}],
            "masterIdentifier": {"use": "usual", "system": "urn:ietf:rfc:3986",
                                 "value": f"urn:oid:1.2.250.1.999.1.1.{int(suffix)}"},
            "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986",
                            "value": f"urn:uuid:5a9d2b3e-0c1f-4e8a-9b7d-00000000{suffix}"}],
            "status": "current",
            "type": _concept("http://loinc.org", loinc, loinc_display),
            "category": [_concept(NOS + "TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument", "10", "Compte rendu")],
            "subject": {"reference": f"Patient/{pat}"},
            "date": when.isoformat(),
            "author": [{"reference": "#author"}],
            "custodian": {"reference": f"Organization/{org}"},
            "description": title,
            "securityLabel": [_concept("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N", "normal")],
            "content": [{
                "attachment": {"contentType": ctype, "language": "fr-FR", "url": f"Binary/{binary_id}",
                               "size": len(content),
                               "hash": sha1_base64(content),
                               "title": title, "creation": when.isoformat()},
                "format": _coding(NOS + "TRE_A06-FormatCodeComplementaire/FHIR/TRE-A06-FormatCodeComplementaire",
                                  "urn:ihe:iti:xds-sd:text:2008" if ctype == "text/plain"
                                  else "urn:ihe:iti:xds-sd:pdf:2008"),
            }],
            "context": {
                "period": {"start": when.isoformat(), "end": (when + timedelta(minutes=30)).isoformat()},
                "facilityType": _concept(NOS + "TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite", "SA05",
                                         "Centre de santé"),
                "practiceSetting": _concept(NOS + "TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice",
                                            "AMBULATOIRE", "Ambulatoire"),
                "sourcePatientInfo": {"reference": "#patient"},
            },
        })
    return resources


def submission_sets(today: date) -> list[dict]:
    def submission(id_: str, pat: str, pr_id: str, org: str, docs: list[str], age: int, n: int) -> dict:
        return {
            "resourceType": "List", "id": id_, "meta": _meta(PDSM + "pdsm-submissionset-comprehensive"),
            "contained": [_contained_author(pr_id, org)],
            "extension": [
                {"url": DESIGNATION_TYPE_URL,
                 # PDSm constr-bind-designationtype: TRE_A00, TRE_R209 or TRE_R02 (the project's rule checks it).
                 "valueCodeableConcept": _concept(NOS + "TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite",
                                                  "SA05", "Centre de santé")},
                {"url": SOURCE_ID_URL,
                 "valueIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.999.2"}},
                {"url": IS_ARCHIVED_URL, "valueBoolean": False},
            ],
            "identifier": [
                {"use": "usual", "system": "urn:ietf:rfc:3986", "value": f"urn:oid:1.2.250.1.999.3.{n}"},
                {"use": "official", "system": "urn:ietf:rfc:3986",
                 "value": f"urn:uuid:7c4e1f20-3b5a-4d6e-8f90-00000000000{n}"},
            ],
            "status": "current", "mode": "working", "title": "Lot de soumission",
            "code": _concept(MHD_LIST_TYPES, "submissionset", "Submission Set"),
            "subject": {"reference": f"Patient/{pat}"},
            "date": datetime.combine(today - timedelta(days=age), time(10, 5), PARIS).isoformat(),
            "source": {"reference": "#author"},
            "entry": [{"item": {"reference": f"DocumentReference/{d}"}} for d in docs],
        }

    return [
        submission("ss-dupont-1", "pat-dupont", "pr-martin", "org-cds-pasteur",
                   ["doc-dupont-cr-consult", "doc-dupont-ordonnance"], 20, 1),
        submission("ss-moreau-1", "pat-moreau", "pr-bernard", "org-clinique-parc", ["doc-moreau-cr-cardio"], 45, 2),
    ]


# -- everything ---------------------------------------------------------------------------------

def seed_resources() -> list[dict[str, Any]]:
    """Every seed resource, in an order where references point backwards."""
    today = datetime.now(PARIS).date()
    days = working_days(today, 15)  # three working weeks from tomorrow
    resources: list[dict[str, Any]] = [organization(*o) for o in ORGANIZATIONS]
    resources += [location(*loc) for loc in LOCATIONS]
    resources += healthcare_services()
    resources += [practitioner(p[0], p[1], p[2], p[3], p[4], p[5]) for p in PRACTITIONERS]
    resources += [practitioner_role(p[0], p[1], p[5], p[6], p[7]) for p in PRACTITIONERS]
    resources += [patient(*p) for p in PATIENTS]
    resources += [related_person(), device()]
    all_slots: dict[str, list[dict]] = {}
    for p in PRACTITIONERS:
        resources.append(schedule(p[0], p[5], days))
        all_slots[p[0]] = slots(p[0], p[5], days)
    # Booked appointments make their slots busy (as the Gestionnaire d'agenda does on writes).
    booked = [
        ("rdv-dupont-martin", "RDV-0001", "booked", all_slots["pr-martin"][0], "pr-martin", "pat-dupont", "SM54"),
        ("rdv-moreau-bernard", "RDV-0002", "booked", all_slots["pr-bernard"][8], "pr-bernard", "pat-moreau", "SM04"),
        ("rdv-lefebvre-petit", "RDV-0003", "booked", all_slots["pr-petit"][13], "pr-petit", "pat-lefebvre", "SM15"),
        ("rdv-dupont-petit", "RDV-0004", "proposed", all_slots["pr-petit"][20], "pr-petit", "pat-dupont", "SM15"),
    ]
    appointments = []
    for id_, number, status, slot, pr_id, pat, specialty in booked:
        if status == "booked":
            slot["status"] = "busy"
        appointments.append(appointment(id_, number, status, slot, pr_id, pat, today, specialty))
    for p in PRACTITIONERS:
        resources += all_slots[p[0]]
    resources += appointments
    resources += documents(today)
    resources += submission_sets(today)
    for resource in resources:
        _narrative(resource)
    return resources


def _narrative(resource: dict[str, Any]) -> None:
    """A short generated narrative (dom-6: resources should have one)."""
    if resource["resourceType"] == "Binary":
        return
    label = resource.get("name") or resource.get("title") or resource.get("description") or resource.get("start")
    if isinstance(label, list):  # HumanName
        label = " ".join([*label[0].get("given", []), label[0].get("family", "")])
    text = escape(f"{resource['resourceType']} {resource['id']}" + (f" : {label}" if label else ""))
    resource["text"] = {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{text}</p></div>'}


def load_seed(store: Store) -> int:
    """Store the seed resources (one atomic transaction); returns how many were stored."""
    resources = seed_resources()
    with store.transaction():
        for resource in resources:
            store.put(resource["resourceType"], resource["id"], resource)
    return len(resources)


SEED_IDS: dict[str, str] = {
    "Organization/org-cds-pasteur": "Centre de santé Pasteur, Lyon (FINESS 690000133, IDNST 1690000133)",
    "Organization/org-clinique-parc": "Clinique du Parc, Nantes (FINESS 440000271, IDNST 1440000271)",
    "Practitioner/pr-martin": "Dr Sophie MARTIN, médecine générale SM54 (RPPS 10003618042)",
    "Practitioner/pr-bernard": "Dr Julien BERNARD, cardiologie SM04 (RPPS 10003622153)",
    "Practitioner/pr-petit": "Dr Claire PETIT, dermatologie SM15 (RPPS 10003627782)",
    "PractitionerRole/role-martin": "Dr MARTIN at Centre de santé Pasteur (specialty SM54)",
    "PractitionerRole/role-bernard": "Dr BERNARD at Clinique du Parc (specialty SM04)",
    "PractitionerRole/role-petit": "Dr PETIT at Centre de santé Pasteur (specialty SM15)",
    "Location/loc-pasteur-rdc": "Centre de santé Pasteur, ground floor (Lyon)",
    "Location/loc-pasteur-etage1": "Centre de santé Pasteur, first floor (Lyon)",
    "Location/loc-parc-cardio": "Clinique du Parc, cardiology (Nantes)",
    "HealthcareService/hs-pasteur-mg": "General practice consultations (SM54)",
    "HealthcareService/hs-parc-cardio": "Cardiology consultations (SM04)",
    "Patient/pat-dupont": "Camille DUPONT, F, 1985-03-12 (INS-NIR-TEST 285037511604233)",
    "Patient/pat-moreau": "Lucas MOREAU, M, 1979-06-02 (INS-NIR-TEST 179061305512365)",
    "Patient/pat-lefebvre": "Chloé LEFEBVRE, F, 2012-08-21 (INS-NIR-TEST 212084410931106)",
    "RelatedPerson/rp-lefebvre-mere": "Nathalie LEFEBVRE, mother of Chloé (identifier RP-0001)",
    "Device/dev-ecg-parc": "Electrocardiograph of Clinique du Parc (identifier ECG-PARC-01)",
    "Schedule/sched-martin": "Agenda of Dr MARTIN (identifier AGENDA-MARTIN)",
    "Schedule/sched-bernard": "Agenda of Dr BERNARD (identifier AGENDA-BERNARD)",
    "Schedule/sched-petit": "Agenda of Dr PETIT (identifier AGENDA-PETIT)",
    "Appointment/rdv-dupont-martin": "booked, RDV-0001, first slot of Dr MARTIN",
    "Appointment/rdv-moreau-bernard": "booked, RDV-0002",
    "Appointment/rdv-lefebvre-petit": "booked, RDV-0003",
    "Appointment/rdv-dupont-petit": "proposed, RDV-0004",
    "DocumentReference/doc-dupont-cr-consult": "text/plain consultation report of Camille DUPONT "
    "(Binary/bin-dupont-cr-consult)",
    "DocumentReference/doc-dupont-ordonnance": "PDF prescription of Camille DUPONT (Binary/bin-dupont-ordonnance)",
    "DocumentReference/doc-moreau-cr-cardio": "PDF cardiology report of Lucas MOREAU (Binary/bin-moreau-cr-cardio)",
    "List/ss-dupont-1": "submission set of Camille DUPONT's two documents",
    "List/ss-moreau-1": "submission set of Lucas MOREAU's document",
}
