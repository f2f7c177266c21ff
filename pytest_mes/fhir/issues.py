"""Validation findings: the issue catalogue (French messages), :class:`Issue` and :class:`ValidationResult`.

Every finding has a catalogue id (``MSG``) so that tests and tools can rely on the kind of issue
rather than on its wording. French is the default wording because most users reading verdicts are
French; an issue keeps its id and arguments so that ``issue.text("en")`` renders it in English from
the English catalogue (:mod:`pytest_mes.fhir.messages_en`) without validating again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_mes.fhir.messages_en import MSG_EN

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")
SEVERITIES = ("fatal", "error", "warning", "information")
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}

# id -> (FHIR issue-type code, French message template)
MSG: dict[str, tuple[str, str]] = {
    "UNKNOWN_ELEMENT": ("structure", "Élément inconnu « {name} » : il n'existe pas dans {type}."),
    "NOT_AN_OBJECT": ("structure", "Un objet JSON est attendu pour un élément de type {type}, trouvé : {found}."),
    "NOT_A_RESOURCE": (
        "structure",
        "Une ressource FHIR (objet JSON avec « resourceType ») est attendue, trouvé : {found}.",
    ),
    "UNKNOWN_RESOURCE_TYPE": ("structure", "Type de ressource inconnu en FHIR R4 : « {type} »."),
    "ARRAY_EXPECTED": (
        "structure",
        "« {name} » doit être un tableau JSON (l'élément est répétable), trouvé : {found}.",
    ),
    "XML_ORDER": ("structure", "Élément XML « {name} » mal placé : il doit précéder « {before} » (FHIR XML suit "
                  "l'ordre des définitions)."),
    "XML_ATTRIBUTE": ("structure", "Attribut XML « {name} » inconnu sur {type} (ignoré)."),
    "XML_CHOICE": ("structure", "Un seul type est permis pour « {name}[x] » : trouvé « {first} » et « {second} »."),
    "XML_REPEATED": ("structure", "Élément XML « {name} » répété alors qu'il n'admet qu'une occurrence (seule la "
                     "première est lue)."),
    "DUPLICATE_KEY": ("structure", "Propriété JSON « {name} » en double dans le même objet : le document est "
                      "invalide (un lecteur ne garderait qu'une des valeurs)."),
    "SINGLE_EXPECTED": ("structure", "« {name} » ne doit pas être un tableau JSON (l'élément n'est pas répétable)."),
    "EMPTY_ARRAY": ("structure", "Tableau vide interdit en JSON FHIR pour « {name} » : omettez l'élément."),
    "NULL_VALUE": ("structure", "Valeur null interdite pour « {name} »."),
    "EMPTY_OBJECT": (
        "structure",
        "Objet vide interdit : un élément doit avoir une valeur ou des éléments fils (ele-1).",
    ),
    "PRIMITIVE_EMPTY": ("required", "Élément {type} sans valeur ni extension : un élément de type primitif doit "
                        "avoir une valeur, ou une extension à sa place."),
    "COMPANION_MISMATCH": (
        "structure",
        "« _{name} » ne correspond pas à « {name} » (mêmes tailles de tableau attendues).",
    ),
    "WRONG_JSON_TYPE": ("value", "Valeur de type JSON {found} pour un {type} FHIR : {expected} attendu."),
    "BAD_FORMAT": ("value", "Valeur « {value} » invalide pour le type {type} (format FHIR non respecté)."),
    "EMPTY_STRING": ("value", "Chaîne vide interdite : omettez l'élément plutôt que d'envoyer \"\"."),
    "BLANK_STRING": ("value", "Chaîne composée uniquement d'espaces : valeur sans contenu, à omettre ou à renseigner."),
    "INTEGER_RANGE": ("value", "Valeur {value} hors des bornes d'un {type} FHIR."),
    "MIN_LENGTH": ("value", "Valeur de {length} caractères : au moins {min} attendus (minLength)."),
    "VALUE_BELOW_MIN": ("value", "Valeur {value} inférieure au minimum {bound} (minValue)."),
    "VALUE_ABOVE_MAX": ("value", "Valeur {value} supérieure au maximum {bound} (maxValue)."),
    "REF_CONTAINED_NOT_FOUND": ("not-found", "Référence {reference} introuvable : aucune ressource contenue n'a cet "
                                "id."),
    "XHTML_ELEMENT": ("value", "Élément XHTML « {name} » interdit dans un narratif (seule la mise en forme HTML de "
                      "base est permise : pas de script, formulaire, cadre ni objet)."),
    "FIXED_VALUE_CHANGED": ("structure", "L'élément {element} fixe la valeur {value} alors que sa base la fixe à "
                            "{base} : un profil dérivé ne peut pas changer une valeur fixée."),
    "REF_WRONG_TYPE": ("structure", "La référence {reference} désigne une ressource de type {type}."),
    "DISCRIMINATOR_PATH": ("structure", "Le chemin de discriminateur « {path} » ne désigne aucun élément de {element}, "
                           "l'élément découpé en tranches."),
    "INVARIANT_EXPRESSION": ("invalid", "Contrainte {key} : expression FHIRPath invalide, elle ne peut pas être "
                             "évaluée ({why})."),
    "BASE_LOOSENED": ("business-rule", "Élément {element} : {what} vaut {value} alors que sa base le fixe à {base} ; "
                      "un profil ne peut que restreindre sa base."),
    "BINDING_NOT_BINDABLE": ("business-rule", "L'élément {element} a une liaison (binding) à un jeu de valeurs alors "
                             "que ses types ({types}) ne se codent pas : seuls code, Coding, CodeableConcept, "
                             "Quantity, string, uri et leurs dérivés se lient à un jeu de valeurs."),
    "SLICING_REDEFINED": ("structure", "L'élément {element} découpe en tranches selon {slicing}, mais sa tranche "
                          "{slice} redéfinit ce découpage en {other}."),
    "SNAPSHOT_ERROR": ("structure", "Snapshot impossible à générer depuis le différentiel : {why}."),
    "DIFF_NO_MATCH": ("structure", "Aucun élément du snapshot généré ne correspond à l'élément {element} du "
                      "différentiel : vérifiez son chemin et l'ordre des éléments."),
    "ATTACHMENT_SIZE": ("value", "Taille déclarée {size} différente de la taille réelle des données ({actual} "
                        "octets)."),
    "STRING_HTML": ("security", "Texte contenant ce qui ressemble à une balise HTML (« {tag} ») : affiché comme HTML "
                    "sans échappement, il serait interprété ; échappez ce balisage (&lt; pour <) ou retirez-le."),
    "MEASURE_CQL_UNKNOWN": ("business-rule", "{name} n'est pas défini dans la bibliothèque {url}."),
    "OPDEF_PROFILE_NOT_FOUND": ("informational", "Profil « {use} » {url} introuvable dans les paquets chargés (ou "
                                "sans snapshot utilisable) : paramètres de l'opération non comparés à ce profil."),
    "OPDEF_PROFILE_NOT_PARAMETERS": ("invalid", "Le profil « {use} » {url} contraint {type}, pas Parameters."),
    "OPDEF_SLICE_NOT_IN_OPERATION": ("business-rule", "Le profil « {use} » {url} définit un paramètre « {name} » "
                                     "que l'opération ne déclare pas en « {use} »."),
    "OPDEF_PARAMETER_NOT_IN_PROFILE": ("business-rule", "Le paramètre « {name} » ({use}) de l'opération n'a pas de "
                                       "tranche dans le profil « {use} » {url}."),
    "OPDEF_PARAMETER_DIFFERS": ("business-rule", "Paramètre « {name} » ({use}) : {field} vaut {operation} dans "
                                "l'opération et {profile} dans son profil « {use} »."),
    "OPDEF_TYPE_NOT_IN_OPERATION": ("business-rule", "Paramètre « {name} » ({use}) : le profil admet le type {type}, "
                                    "que l'opération n'admet pas (types de l'opération : {allowed})."),
    "OPDEF_TYPE_NOT_IN_PROFILE": ("business-rule", "Paramètre « {name} » ({use}) : l'opération admet le type {type}, "
                                  "que son profil n'admet pas (types du profil : {allowed})."),
    "OPDEF_TARGET_NOT_IN_PROFILE": ("business-rule", "Paramètre « {name} » ({use}) : le profil cible {target} de "
                                    "l'opération n'est pas parmi ceux de son profil « {use} »."),
    "OPDEF_TARGET_NOT_IN_OPERATION": ("business-rule", "Paramètre « {name} » ({use}) : le profil cible {target} de "
                                      "son profil « {use} » n'est pas parmi ceux de l'opération."),
    "MR_MEASURE_NOT_FOUND": ("informational", "Rapport non vérifié contre sa mesure : {url} n'est dans aucun "
                             "paquet ni --ig chargé."),
    "MR_POPULATION_UNKNOWN": ("business-rule", "Population {code} absente du groupe correspondant de la mesure."),
    "MR_SUBJECTS_NOT_LISTED": ("business-rule", "Un rapport de type {type} ne liste pas de sujets (subjectResults) : "
                               "seul un rapport subject-list le fait."),
    "SP_EXPRESSION_TYPE": ("invalid", "L'expression de recherche commence par {types} : le premier élément de "
                           "l'expression doit être l'un des types de ressource de base du paramètre ({bases})."),
    "SP_BASE_NOT_DERIVED": ("business-rule", "La base {type} n'est pas une base du paramètre de recherche {url} "
                            "dont celui-ci dérive."),
    "QR_QUESTIONNAIRE_NOT_FOUND": ("informational", "Réponses non vérifiées contre leur questionnaire : {url} n'est "
                                   "dans aucun paquet ni --ig chargé."),
    "QR_LINKID_UNKNOWN": ("structure", "Item « {link} » absent du questionnaire à cet endroit."),
    "QR_ITEM_NOT_ENABLED": ("business-rule", "L'item « {link} » a une réponse alors que son enableWhen le désactive."),
    "QR_ITEM_ORDER": ("structure", "Item « {link} » hors de l'ordre des items du questionnaire."),
    "QR_ITEM_REPEATED": ("structure", "Item « {link} » répété alors que la question n'est pas répétable (repeats)."),
    "QR_TEXT_DIFFERS": ("invalid", "Le texte de l'item « {link} » n'est pas celui de la question."),
    "QR_ANSWER_REPEATED": ("invalid", "Item « {link} » : plusieurs réponses alors que la question n'est pas "
                           "répétable (repeats)."),
    "QR_ANSWER_NOT_ALLOWED": ("structure", "Item « {link} » de type {type} : il ne prend pas de réponse."),
    "QR_ITEMS_MISPLACED": ("structure", "Item « {link} » de type {type} : ses sous-items vont sous ses réponses "
                           "(answer.item), seul un groupe a des items."),
    "QR_ANSWER_TYPE": ("structure", "Réponse de type {found} à l'item « {link} » : {expected} attendu."),
    "QR_ANSWER_NOT_OPTION": ("invalid", "Réponse {value} à l'item « {link} » absente des options de la question "
                             "(answerOption)."),
    "QR_REQUIRED_MISSING": ("required", "Item obligatoire « {link} » sans réponse (questionnaire complété)."),
    "EXAMPLE_URL": ("business-rule", "Url d'exemple ({url}) non permise ici : les domaines d'exemple sont refusés."),
    "NARRATIVE_SECTIONS_PROHIBITED": ("business-rule", "Le narratif a des sections de langue ({found}) alors que le "
                                      "profil les interdit."),
    "NARRATIVE_SECTIONS_REQUIRED": ("business-rule", "Le narratif n'a pas de section de langue (<div lang=\"…\">) "
                                    "alors que le profil en exige."),
    "NARRATIVE_SECTION_MISSING": ("business-rule", "Le narratif n'a pas de section pour la langue {language} "
                                  "exigée par le profil (sections trouvées : {found})."),
    "VALUE_REQUIRED": ("required", "Valeur absente : le profil exige une valeur, une extension à sa place ne suffit "
                       "pas (mustHaveValue)."),
    "VALUE_ALTERNATIVE": ("required", "Valeur absente sans l'une des extensions que le profil permet à sa place : "
                          "{alternatives} (valueAlternatives)."),
    "MAX_LENGTH": ("value", "Valeur de {length} caractères : au plus {max} autorisés."),
    "CARD_MIN": (
        "required",
        "{count} occurrence(s) de « {name} », au moins {min} attendue(s) (cardinalité {min}..{max}).",
    ),
    "CARD_MAX": (
        "structure",
        "{count} occurrence(s) de « {name} », au plus {max} autorisée(s) (cardinalité {min}..{max}).",
    ),
    "SLICE_MIN": (
        "required",
        "Tranche « {slice} » de « {name} » : {count} occurrence(s), au moins {min} attendue(s) "
        "({min}..{max}).",
    ),
    "SLICE_MAX": (
        "structure",
        "Tranche « {slice} » de « {name} » : {count} occurrence(s), au plus {max} autorisée(s) "
        "({min}..{max}).",
    ),
    "SLICE_CLOSED": (
        "structure",
        "Cet élément « {name} » ne correspond à aucune tranche autorisée ({slices}) et le découpage (slicing)"
        " est fermé.",
    ),
    "SLICE_ORDER": (
        "structure",
        "Ordre des tranches non respecté : « {slice} » après « {previous} » alors que le découpage est "
        "ordonné.",
    ),
    "SLICE_OPEN_AT_END": (
        "structure",
        "Élément hors tranche avant la fin de « {name} » alors que le découpage est « openAtEnd ».",
    ),
    "SLICE_NOT_CHECKED": (
        "informational",
        "Tranche de « {name} » non déterminée : le discriminant dépend d'un jeu de valeurs non disponible "
        "hors ligne.",
    ),
    "TYPE_PROFILE_NO_MATCH": ("structure", "Valeur conforme à aucun des profils permis pour son type : {profiles}."),
    "TYPE_PROFILE_NOT_FOUND": (
        "informational",
        "Profil de type {url} introuvable dans les paquets chargés : ses contraintes ne sont pas vérifiées.",
    ),
    "SLICE_UNDETERMINABLE": (
        "informational",
        "Tranche « {slice} » de « {name} » non déterminée : son discriminant « {path} » n'a ni valeur fixée, ni "
        "motif, ni binding requis ; l'appartenance à cette tranche n'est pas vérifiée.",
    ),
    "SLICE_ASSUMED": (
        "informational",
        "Élément rattaché à la tranche « {slice} » de « {name} » sans vérifier tout son discriminant (jeu de "
        "valeurs non disponible hors ligne).",
    ),
    "FIXED": ("value", "Valeur {actual} différente de la valeur fixée {expected}."),
    "PATTERN": ("value", "Valeur {actual} non conforme au motif (pattern) {expected}."),
    "BINDING_REQUIRED": (
        "code-invalid",
        "Code {code} absent du jeu de valeurs obligatoire {valueset} (binding required).",
    ),
    "BINDING_EXTENSIBLE": (
        "code-invalid",
        "Code {code} absent du jeu de valeurs {valueset} (binding extensible : utilisez-le si un code "
        "convient).",
    ),
    "BINDING_PREFERRED": (
        "informational",
        "Code {code} absent du jeu de valeurs recommandé {valueset} (binding preferred).",
    ),
    "BINDING_NOT_CHECKED": (
        "informational",
        "Code {code} non vérifié : le jeu de valeurs {valueset} ne peut pas être déplié hors ligne ({why}).",
    ),
    "BINDING_DEFINITION_NOT_FOUND": (
        "informational",
        "Jeu de valeurs obligatoire {valueset} (binding required) non vérifié : {why}. Chargez le paquet FHIR qui "
        "définit ce ValueSet ou son CodeSystem.",
    ),
    "BINDING_NO_CODE": (
        "code-invalid",
        "Aucun code fourni (texte seul) alors que le jeu de valeurs {valueset} est lié (binding {strength}) :"
        " ajoutez un codage.",
    ),
    "INVARIANT": ("invariant", "Contrainte {key} non respectée : {human}"),
    "INVARIANT_NOT_CHECKED": ("informational", "Contrainte {key} non vérifiée : {why}."),
    "PROJECT_RULE": ("invariant", "Règle du projet pytest-mes {rule} non respectée — lecture de la contrainte {key}, "
                     "énoncée en texte seulement par {profile} : {statement}."),
    "PROJECT_RULE_NOT_CHECKED": ("informational", "Règle du projet pytest-mes {rule} (lecture de la contrainte {key}) "
                                 "non vérifiée : {why}."),
    "EXTENSION_UNKNOWN": (
        "structure",
        "Extension {url} non vérifiée : sa définition est introuvable dans les paquets FHIR chargés.",
    ),
    "EXTENSION_NOT_FOUND": ("extension", "Extension {url} introuvable : sa définition n'est dans aucun paquet ni "
                            "--ig chargé, elle n'est donc pas autorisée ici."),
    "EXTENSION_EXAMPLE_DOMAIN": ("informational", "Extension {url} non vérifiée : url d'un domaine d'exemple, "
                                 "acceptée sans définition (comme le fait le validateur HL7)."),
    "BUNDLE_REF_NOT_FOUND": ("not-found", "Référence {reference} introuvable dans le document (Bundle de type "
                             "document, qui doit se suffire à lui-même ; résolution par fullUrl)."),
    "BUNDLE_ENTRY_UNREACHABLE": ("structure", "Entrée {url} inatteignable depuis la Composition en suivant les "
                                 "références : un document ne contient que ce que la Composition désigne."),
    "BUNDLE_NO_FULLURL": ("required", "Entrée sans fullUrl : hors transaction et batch, chaque entrée porteuse d'une "
                          "ressource doit avoir un fullUrl, l'identité de la ressource."),
    "BUNDLE_FULLURL_RELATIVE": ("value", "fullUrl « {url} » relatif : il doit être une URL absolue (urn:uuid:…, "
                                "https://…/Type/id)."),
    "BUNDLE_FULLURL_MISMATCH": ("value", "fullUrl « {url} » d'allure RESTful : il doit se terminer par le type et "
                                "l'id de la ressource ({expected})."),
    "EXTENSION_CONTEXT": ("structure", "Extension {url} interdite à cet endroit (contextes autorisés : {contexts})."),
    "EXTENSION_CONTEXT_NOT_CHECKED": ("informational", "Contexte d'usage de l'extension {url} non vérifié : "
                                      "ses contextes ({contexts}) ne sont pas évalués par pytest-mes."),
    "INTERNAL_ERROR": ("exception", "Erreur interne du validateur ({why}) : ressource non vérifiée, signalez-le."),
    "EXTENSION_NO_URL": ("structure", "Extension sans « url » absolue (« {url} ») : hors d'une extension complexe, "
                         "l'url doit être celle, canonique, de la définition de l'extension."),
    "MODIFIER_EXTENSION_UNKNOWN": ("structure", "Extension modificatrice {url} inconnue : une ressource porteuse "
                                   "d'un modifierExtension inconnu doit être rejetée."),
    "CONTEXT_UNKNOWN": ("not-found", "Contexte {context} inconnu : ce paquet n'est pas chargé ; les url canoniques "
                        "sans version sont résolues vers la dernière version chargée."),
    "DEPENDENCY_SUBSTITUTED": (
        "informational",
        "Dépendance {wanted} (requise par {by}) absente : {used} est utilisé à sa place ; ses règles, que {wanted} "
        "n'a peut-être pas, sont signalées en avertissements et non en erreurs.",
    ),
    "PROFILE_NOT_FOUND": ("not-found", "Profil introuvable dans les paquets FHIR chargés : {url}."),
    "META_PROFILE_NOT_FOUND": ("not-found", "Profil déclaré dans meta.profile introuvable, non vérifié : {url}."),
    "PROFILE_WRONG_TYPE": ("structure", "Le profil {url} s'applique aux ressources {expected}, pas à {type}."),
    "REF_TARGET_TYPE": ("structure", "Référence vers un(e) {type} interdite ici : cibles autorisées {allowed}."),
    "REF_TARGET_PROFILE": (
        "structure",
        "La ressource référencée ({target}) n'est conforme à aucun des profils attendus : {profiles}.",
    ),
    "REF_CHAIN_CUT": (
        "informational",
        "Conformité des ressources référencées non vérifiée au-delà de {depth} références en chaîne "
        "(chaque cible est jugée sur ses propres références) : la fin de la chaîne est supposée conforme.",
    ),
    "TOO_DEEP": (
        "too-costly",
        "Document trop profondément imbriqué pour être validé (plus de {limit} objets l'un dans l'autre) : ressource "
        "non vérifiée. Une ressource FHIR n'en imbrique que quelques dizaines : le document est sans doute généré "
        "en boucle ou corrompu.",
    ),
    "REF_NOT_CHECKED": (
        "informational",
        "Cible de la référence {reference} non vérifiée : profil(s) cible(s) introuvable(s) dans les paquets "
        "FHIR chargés : {profiles}.",
    ),
    "REF_RESOLVE_FAILED": ("informational", "Cible de la référence {reference} non obtenue (le résolveur de "
                           "références a échoué : {why}) : non vérifiée."),
    "REF_NOT_BUNDLED": ("structure", "La référence {reference} doit désigner une ressource du Bundle (agrégation "
                        "« bundled ») : elle n'y est pas."),
    "REF_NOT_CONTAINED": (
        "structure",
        "La référence {reference} doit désigner une ressource contenue (« #id ») : agrégation « contained ».",
    ),
    "MUST_SUPPORT": (
        "informational",
        "Élément « {name} » marqué must-support absent : le système doit savoir le traiter.",
    ),
    "NOT_JSON": ("structure", "Document illisible : {why}."),
}


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase given in every language: the argument values of a message a person reads (a reason, a
    JSON kind), so that the whole message renders in the reader's language. It formats as its French,
    the default language (so the French catalogue is filled by a plain ``format``)."""

    fr: str
    en: str

    def get(self, lang: Lang = "fr") -> str:
        return self.en if lang == "en" else self.fr

    def __str__(self) -> str:
        return self.fr


def render(message_id: str, values: dict[str, object], lang: Lang = "fr") -> str:
    """The message ``message_id`` in ``lang``, its placeholders filled with ``values``."""
    if lang != "en":
        return MSG[message_id][1].format(**values)
    return MSG_EN[message_id].format(**{k: v.en if isinstance(v, Phrase) else v for k, v in values.items()})


# Not frozen: a frozen dataclass sets each field through object.__setattr__, five times the cost of building
# one, and a validation builds thousands (bench/validate.py (d): 5 per resource). Treated as immutable all the
# same: noted() and moved() build new ones. Hashable by value, as before.
@dataclass(slots=True, unsafe_hash=True)
class Issue:
    """One finding.

    ``expression`` is a FHIRPath location with indexes (``Patient.identifier[0].system``);
    ``source`` names the rule: profile url and element id, or an invariant key. ``message`` is the
    French text; ``args`` (the values of the message's placeholders) let :meth:`text` render it in
    another language.
    """

    severity: str
    code: str
    expression: str
    message: str
    source: str = ""
    message_id: str = ""
    args: tuple[tuple[str, object], ...] = ()
    note: Phrase | None = None  # said after the message (already in ``message``): why its severity changed

    def text(self, lang: Lang = "fr") -> str:
        """The message in ``lang`` (``fr`` or ``en``)."""
        if lang == "fr" or not self.message_id:
            return self.message
        text = render(self.message_id, dict(self.args), lang)
        return f"{text} {self.note.get(lang)}" if self.note is not None else text

    def noted(self, severity: str, note: Phrase) -> Issue:
        """The same finding with another severity, and the note saying why."""
        # (built field by field: dataclasses.replace costs twice as much, and the walk notes many)
        return Issue(severity, self.code, self.expression, f"{self.message} {note.fr}", self.source, self.message_id,
                     self.args, note)

    def moved(self, expression: str) -> Issue:
        """The same finding at another location."""
        return Issue(self.severity, self.code, expression, self.message, self.source, self.message_id, self.args,
                     self.note)

    def to_fhir(self, lang: Lang = "fr") -> dict:
        issue: dict = {"severity": self.severity, "code": self.code, "details": {"text": self.text(lang)}}
        if self.source:
            issue["diagnostics"] = self.source
        if self.expression:
            issue["expression"] = [self.expression]
        if self.message_id:
            issue["extension"] = [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id",
                    "valueString": self.message_id,
                }
            ]
        return issue


def make_issue(severity: str, message_id: str, expression: str, source: str = "", **values: object) -> Issue:
    return Issue(severity, MSG[message_id][0], expression, render(message_id, values), source, message_id,
                 tuple(values.items()))


_INDEX = re.compile(r"\[(\d+)\]")


def location_key(expression: str) -> tuple:
    # Indexes compare as numbers, so entry[10] sorts after entry[9].
    parts: list[Any] = _INDEX.split(expression)  # names at even positions, indexes at odd ones
    parts[1::2] = map(int, parts[1::2])
    return tuple(parts)


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    """Stable, documented order: by location (document order of indexes), then severity, then message."""
    unique = list({(i.severity, i.code, i.expression, i.message, i.source): i for i in reversed(list(issues))}.values())
    return sorted(unique, key=lambda i: (location_key(i.expression), _SEVERITY_RANK.get(i.severity, 9), i.message))


# Validator findings that say a part of the check could not be made (a definition or package is missing:
# a profile, or the ValueSet or CodeSystem of a required binding). TOO_DEEP: nesting beyond what can be
# walked, so the resource was not validated at all.
UNMADE_CHECKS = frozenset({"PROFILE_NOT_FOUND", "CONTEXT_UNKNOWN", "TYPE_PROFILE_NOT_FOUND", "REF_NOT_CHECKED",
                           "BINDING_DEFINITION_NOT_FOUND", "INTERNAL_ERROR", "TOO_DEEP"})
# Findings of a stated limit: a code left unjudged that no loaded package could judge (an external terminology)
# or whose judgement is a warning at most (an extensible binding). Not a check not made, so not in the
# verdict — but every output says it (the terminal summary counts them).
STATED_LIMITS = frozenset({"BINDING_NOT_CHECKED"})


_NO_ISSUE = Phrase("Aucun problème détecté.", "No issue found.")


def no_error(issues: Iterable[Issue]) -> bool:
    """No issue of severity error or fatal: valid, or conformant."""
    return not any(i.severity in ("error", "fatal") for i in issues)


@dataclass
class ValidationResult:
    """The outcome of validating one resource."""

    issues: list[Issue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when no issue is an error or fatal."""
        return no_error(self.issues)

    @property
    def unmade(self) -> list[Issue]:
        """The findings that say a check could not be made: the verdict is incomplete unless an error is found."""
        return [i for i in self.issues if i.message_id in UNMADE_CHECKS]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity in ("error", "fatal")]

    @property
    def verdict(self) -> str:
        """valid, invalid (an error), or incomplete: no error, but a check could not be made (a profile, type
        profile or required binding's definition missing), so "valid" would claim more than was checked."""
        if any(i.message_id not in UNMADE_CHECKS for i in self.errors):
            return "invalid"
        return "incomplete" if self.unmade else "valid"

    def by_severity(self, severity: str) -> list[Issue]:
        return [i for i in self.issues if i.severity == severity]

    def to_operation_outcome(self, lang: Lang = "fr") -> dict:
        """A FHIR R4 OperationOutcome with messages in ``lang``; an empty result gives one "information"
        issue, as FHIR requires ≥1."""
        issues = [i.to_fhir(lang) for i in self.issues]
        if not issues:
            issues = [{"severity": "information", "code": "informational", "details": {"text": _NO_ISSUE.get(lang)}}]
        return {"resourceType": "OperationOutcome", "issue": issues}

    def __str__(self) -> str:
        lines = [f"{i.severity:<11} {i.expression}: {i.message}" for i in self.issues]
        return "\n".join(lines) if lines else "valide"
