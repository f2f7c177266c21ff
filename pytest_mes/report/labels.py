"""The fixed words of the reports, in French and English (one table), and the choice of a bilingual text."""

from __future__ import annotations

from typing import Any

from pytest_mes.fhir.issues import Phrase

LANGS = ("fr", "en")

# key: (French, English). Verdict keys are the results document's codes.
LABELS: dict[str, tuple[str, str]] = {
    "title": ("Cahier de recette", "Acceptance file"),
    "passed": ("conforme", "passed"),
    "failed": ("non conforme", "failed"),
    "advisory": ("non conforme (recommandation)", "failed (advisory)"),
    "incomplete": ("incomplet", "incomplete"),
    "skipped": ("non exécuté", "skipped"),
    "waived": ("dérogation", "waived"),
    "error": ("erreur", "error"),
    "check.passed": ("satisfait", "met"),
    "check.failed": ("non satisfait", "not met"),
    "check.not_checked": ("non vérifié", "not checked"),
    "check.error": ("erreur", "error"),
    "check.skipped": ("non exécuté", "not run"),
    "check.waived": ("dérogation", "waived"),
    "severity.fatal": ("fatal", "fatal"),
    "severity.error": ("erreur", "error"),
    "severity.warning": ("avertissement", "warning"),
    "severity.information": ("information", "information"),
    "stated_limits": ("Codes non vérifiés — limite déclarée, sans effet sur le verdict (terminologie qu'aucun paquet "
                      "n'énumère, ou binding extensible) ; détail dans le rapport",
                      "Codes not checked — a stated limit that does not change the verdict (a terminology no package "
                      "enumerates, or an extensible binding); details in the report"),
    "stated_limits.count": ("{codes} code(s) dans {tests} test(s)", "{codes} code(s) in {tests} test(s)"),
    "identification": ("Identification", "Identification"),
    "publisher": ("Éditeur", "Publisher"),
    "solution": ("Solution", "Solution"),
    "solution_version": ("Version de la solution", "Solution version"),
    "convergence_id": ("Référence Convergence", "Convergence reference"),
    "not_given": ("non renseigné", "not given"),
    "run": ("Exécution", "Run"),
    "run_id": ("Identifiant d'exécution", "Run id"),
    "started": ("Début", "Started"),
    "finished": ("Fin", "Finished"),
    "duration": ("Durée", "Duration"),
    "base_url": ("URL de base testée", "Base URL tested"),
    "sandbox": ("serveur de référence pytest-mes", "pytest-mes reference sandbox"),
    "defects": ("défauts simulés", "simulated defects"),
    "tool": ("Outil", "Tool"),
    "validator": ("Validateur", "Validator"),
    "unavailable": ("indisponible", "unavailable"),
    "build.compiled": ("compilé", "compiled"),
    "build.pure Python": ("Python pur", "pure Python"),
    "interrupted": ("Exécution interrompue", "Run interrupted"),
    "testsets": ("Jeux de tests", "Test sets"),
    "packages": ("Jeu de profils (paquets FHIR)", "Profile set (FHIR packages)"),
    "missing_packages": ("Paquets manquants", "Missing packages"),
    "missing_by": ("requis par {by}", "required by {by}"),
    "missing_substitute": ("remplacé par {substitute}", "{substitute} stands in for it"),
    "options": ("Options qui changent les verdicts", "Options that change verdicts"),
    "fail_on": ("Échec de l'exécution sur", "Run fails on"),
    "fail_on.shall": ("exigences SHALL", "SHALL requirements"),
    "fail_on.should": ("exigences SHALL et SHOULD", "SHALL and SHOULD requirements"),
    "strict": ("Mode strict (un contrôle non vérifié fait échouer le test)",
               "Strict mode (a check not made fails the test)"),
    "ignore_preconditions": ("Préconditions de la CapabilityStatement ignorées",
                             "CapabilityStatement preconditions ignored"),
    "waivers_file": ("Fichier de dérogations", "Waivers file"),
    "components": ("Composants", "Components"),
    "workers": ("Processus parallèles", "Parallel workers"),
    "yes": ("oui", "yes"),
    "no": ("non", "no"),
    "none": ("aucun", "none"),
    "verdict": ("Verdict", "Verdict"),
    "overall_verdict": ("Verdict global", "Overall verdict"),
    "rule": ("Règle", "Rule"),
    "reasons": ("Motifs", "Reasons"),
    "summary": ("Synthèse par composant, acteur et niveau", "Summary by component, actor and level"),
    "component": ("Composant", "Component"),
    "actor": ("Acteur", "Actor"),
    "level": ("Niveau", "Level"),
    "total": ("Total", "Total"),
    "more": ("autres", "more"),
    "requirements": ("Matrice des exigences", "Requirement matrix"),
    "requirement": ("Exigence", "Requirement"),
    "coverage": ("Couverture des exigences serveur des guides (CapabilityStatements, flux et transactions)",
                 "Coverage of the IGs' server requirements (CapabilityStatements, flows and transactions)"),
    "coverage_item": ("Élément", "Item"),
    "not_run": ("non couvert dans cette exécution", "not covered in this run"),
    "tests": ("Tests", "Tests"),
    "waivers": ("Dérogations", "Waivers"),
    "waiver": ("Dérogation", "Waiver"),
    "waiver.used": ("appliquée", "applied"),
    "waiver.unused": ("inutilisée", "unused"),
    "waiver.expired": ("expirée (ne s'applique plus)", "expired (no longer applies)"),
    "waiver.unknown": ("test inconnu (aucun jeu de tests chargé ne l'a)", "unknown test (no loaded test set has it)"),
    "justification": ("Justification", "Justification"),
    "author": ("Auteur", "Author"),
    "expires": ("Expire le", "Expires"),
    "target": ("Cible", "Target"),
    "status": ("Statut", "Status"),
    "source": ("Source", "Source"),
    "matched": ("Tests concernés", "Tests matched"),
    "id": ("Identifiant", "Id"),
    "version": ("Version", "Version"),
    "file": ("Fichier", "File"),
    "title_col": ("Titre", "Title"),
    "filters": ("Filtres", "Filters"),
    "all": ("tous", "all"),
    "search": ("Rechercher (identifiant, titre, exigence, motif)", "Search (id, title, requirement, reason)"),
    "shown": ("tests affichés", "tests shown"),
    "expand_all": ("Tout déplier (impression)", "Expand all (printing)"),
    "reason": ("Motif", "Reason"),
    "steps": ("Étapes", "Steps"),
    "checks": ("Contrôles", "Checks"),
    "check": ("Contrôle", "Check"),
    "expected": ("attendu", "expected"),
    "actual": ("obtenu", "actual"),
    "because": ("car", "because"),
    "items": ("premiers éléments en cause", "first offending items"),
    "issues": ("Anomalies de validation", "Validation issues"),
    "occurrences": ("occurrences", "occurrences"),
    "locations": ("Emplacements", "Locations"),
    "profile": ("Profil", "Profile"),
    "exchanges": ("Échanges HTTP", "HTTP exchanges"),
    "exchange": ("échange", "exchange"),
    "request": ("Requête", "Request"),
    "response": ("Réponse", "Response"),
    "headers": ("En-têtes", "Headers"),
    "body": ("Corps", "Body"),
    "no_body": ("(pas de corps)", "(no body)"),
    "no_answer": ("pas de réponse", "no answer"),
    "elapsed": ("durée", "elapsed"),
    "truncated": ("corps tronqué à {cap} octets sur {size}", "body truncated to {cap} bytes of {size}"),
    "body_cap": ("corps enregistrés jusqu'à {cap} octets", "bodies recorded up to {cap} bytes"),
    "bodies_unavailable": ("Corps non affichables : ce navigateur ne sait pas décompresser (DecompressionStream) ; "
                           "voir le fichier JSON des résultats.",
                           "Bodies cannot be shown: this browser cannot decompress (DecompressionStream); "
                           "see the JSON results file."),
    "loading": ("chargement…", "loading…"),
    "print_cut": ("à l'impression, les {n} premières lignes sur {total} ; le corps entier est dans le fichier HTML",
                  "printed: the first {n} lines of {total}; the whole body is in the HTML file"),
    "redirects": ("Redirections", "Redirects"),
    "notes": ("Remarques", "Notes"),
    "variables": ("Variables", "Variables"),
    "yaml": ("YAML de l'étape", "YAML of the step"),
    # The evidence of a test that did not pass, in the terminal (pytest_mes.failure).
    "evidence.step_of": ("Étape {n} sur {total}", "Step {n} of {total}"),
    "evidence.phase_step": ("Étape {n} ({phase})", "{phase} step {n}"),
    "evidence.failed": ("en échec", "failed"),
    "evidence.line": ("ligne", "line"),
    "evidence.got": ("obtenu", "got"),
    "evidence.passed_other": ("({n} autre(s) vérification(s) réussie(s))", "({n} other check(s) passed)"),
    "evidence.none_after": ("aucune après {ms} ms", "none after {ms} ms"),
    "evidence.redirected": ("Redirigé", "Redirected"),
    "evidence.in": ("en", "in"),
    "evidence.more_groups": ("… et {n} autres sortes de problème (toutes dans les rapports)",
                             "… and {n} more kinds of issue (all in the reports)"),
    "evidence.cleanup_failed": ("nettoyage en échec (des données peuvent rester sur le serveur) :",
                                "cleanup failed (data may be left on the server):"),
    "evidence.not_made": ("Vérifications non faites :", "Checks not made:"),
    "evidence.more_chars": ("{n} caractères de plus", "{n} more characters"),
    "evidence.bytes_in_all": ("{n} octets en tout", "{n} bytes in all"),
    "evidence.resource": ("(ressource)", "(resource)"),
    "phase.setup": ("préparation", "setup"),
    "phase.test": ("test", "test"),
    "phase.cleanup": ("nettoyage", "cleanup"),
    "phase.teardown": ("nettoyage du jeu", "set teardown"),
    "no_tests": ("Aucun test ne correspond aux filtres.", "No test matches the filters."),
    "no_requirements": ("Aucune exigence référencée.", "No requirement referenced."),
    "no_waivers": ("Aucune dérogation.", "No waivers."),
    "no_js": ("Le détail des tests nécessite JavaScript.", "Test details need JavaScript."),
    "generated_by": ("Produit par", "Generated by"),
    "seconds": ("s", "s"),
    # Punctuation: French puts a space before a colon or a semicolon, English does not.
    "colon": (" : ", ": "),
    "semicolon": (" ; ", "; "),
    # The name a mistyped one probably meant (unknown variables, waivers naming no loaded test, test-set keys).
    "did_you_mean": (" — vouliez-vous dire '{name}' ?", " — did you mean '{name}'?"),
    # The reason of a test's verdict (pytest_mes.recording, pytest_mes.reporting).
    "reason.not_run": ("le test n'a pas pu s'exécuter : {error}", "the test could not run: {error}"),
    "reason.no_answer": ("pas de réponse HTTP du serveur : {error}", "no HTTP answer from the server: {error}"),
    "reason.step": ("étape {n} « {name} » : {reason}", "step {n} \"{name}\": {reason}"),
    "reason.check": ("{label} : {actual}", "{label}: {actual}"),
    "reason.expected": ("{label} : attendu {expected}, obtenu {actual}", "{label}: expected {expected}, got {actual}"),
    "reason.cleanup": ("nettoyage en échec, des données peuvent rester sur le serveur : {reason}",
                       "cleanup failed, data may be left on the server: {reason}"),
    "reason.strict": ("vérifications non faites, et --mes-strict est actif : {reason}",
                      "checks not made, and --mes-strict is on: {reason}"),
    "reason.teardown": ("erreur après le test : {failure}", "teardown failed: {failure}"),
    "reason.worker_died": ("le processus de test {worker} s'est arrêté brutalement pendant ce test (mémoire épuisée, "
                           "plantage d'une extension C ?) : rien n'a été vérifié",
                           "the test process {worker} died while running this test (out of memory, a crash in a C "
                           "extension?): nothing was checked"),
    "reason.no_data": ("aucune donnée à tester — étape {n} « {name} » : {what}",
                       "no data to test — step {n} \"{name}\": {what}"),
    "set.setup_failed": ("la préparation du jeu a échoué, ses tests ne peuvent pas s'exécuter : {reason}",
                         "set setup failed, so its tests cannot run: {reason}"),
    "set.setup_see": ("la préparation du jeu a échoué : {reason} (détail : voir l'erreur de {nodeid})",
                      "set setup failed: {reason} (details: see the error of {nodeid})"),
    "set.teardown_failed": ("le nettoyage du jeu a échoué (des données peuvent rester sur le serveur) : {reason}",
                            "set teardown failed (data may be left on the server): {reason}"),
    "body_not_shown": ("({size} octets de {kind}, non affichés)", "({size} bytes of {kind}, not shown)"),
    "binary_data": ("données binaires", "binary data"),
    # What a check is called, and the words of its expected and obtained values (pytest_mes.testset.checks).
    "check.request": ("requête", "request"),
    "check.status": ("statut", "status"),
    "check.header": ("en-tête {name}", "header {name}"),
    "check.content_type": ("type de contenu", "content type"),
    "check.resource_type": ("type de ressource", "resource type"),
    "check.response_time": ("temps de réponse", "response time"),
    "check.conforms_to": ("conformité à {profiles}", "conforms to {profiles}"),
    "check.an_answer": ("une réponse HTTP", "an HTTP response"),
    "check.no_server_error": ("pas d'erreur serveur (statut < 500)", "no server error (status < 500)"),
    "check.or": (" ou ", " or "),
    "check.and": (" et ", " and "),
    "check.present": ("présent", "present"),
    "check.absent": ("absent", "absent"),
    "check.matching": ("correspondant à /{pattern}/", "matching /{pattern}/"),
    "check.no_content_type": ("(pas de Content-Type)", "(no Content-Type)"),
    "check.a_bundle": ("un Bundle", "a Bundle"),
    "check.entries": ("nombre d'entrées", "number of entries"),
    "check.matches": ("entrées avec search.mode = match", "entries with search.mode = match"),
    "check.entry_types": ("types de ressource des entrées", "entry resource types"),
    "check.a_readable_bundle": ("un Bundle lisible", "a readable Bundle"),
    "check.only": ("seulement {types}", "only {types}"),
    "check.not_empty": ("non vide", "not empty"),
    "check.empty": ("vide", "empty"),
    "check.op.equals": ("égal à", "equals"),
    "check.op.not_equals": ("différent de", "not equals"),
    "check.op.contains": ("contient", "contains"),
    "check.op.not_contains": ("ne contient pas", "not contains"),
    "check.op.in": ("parmi", "in"),
    "check.op.not_in": ("hors de", "not in"),
    "check.op.matches": ("correspondant à", "matches"),
    "check.no_validator": ("aucun validateur n'est chargé", "no validator is loaded"),
    "check.not_made": ("non vérifié : {why}", "not checked: {why}"),
    "check.no_error_from_validator": ("aucune erreur du validateur", "no error from the validator"),
    "check.a_resource": ("une ressource FHIR", "a FHIR resource"),
    "check.no_error": ("aucune erreur", "no error"),
    "check.errors": ("{n} erreur(s)", "{n} error(s)"),
    "check.unreadable_xml": ("la réponse XML ne peut pas être lue : {error}",
                             "the XML response cannot be read: {error}"),
    "check.unevaluable": ("la vérification n'a pas pu être évaluée : {error}",
                          "the check could not be evaluated: {error}"),
    "check.too_deep": ("(une valeur trop imbriquée pour être affichée)", "(a value too deeply nested to show)"),
    # Preconditions and writes: why a test is skipped or cannot be judged (pytest_mes.nodes, pytest_mes.capabilities).
    "skip.writes": ("modifie des données sur le serveur : relancez avec --mes-allow-writes sur un serveur de test",
                    "writes data on the server: rerun with --mes-allow-writes on a test server"),
    "skip.set_writes": ("la préparation ou le nettoyage du jeu modifie des données sur le serveur : relancez avec "
                        "--mes-allow-writes sur un serveur de test",
                        "set setup/teardown writes data on the server: rerun with --mes-allow-writes on a test server"),
    "set.variables_failed": ("les variables du jeu {set} ({file}) : {error}",
                             "the variables of set {set} ({file}): {error}"),
    "precondition.unmet": ("précondition non remplie : la CapabilityStatement du serveur ne déclare pas {need} — "
                           "{reason}",
                           "precondition not met: the server's CapabilityStatement does not declare {need} — {reason}"),
    "precondition.unverifiable": ("précondition non vérifiable : {problem} ; lancez avec --mes-ignore-preconditions "
                                  "pour exécuter tous les tests malgré tout",
                                  "precondition not verifiable: {problem}; run with --mes-ignore-preconditions to run "
                                  "every test anyway"),
    "metadata.malformed": ("GET [base]/metadata a renvoyé une CapabilityStatement mal formée : {error}",
                           "GET [base]/metadata returned a malformed CapabilityStatement: {error}"),
    "metadata.status": ("GET [base]/metadata a répondu {status}", "GET [base]/metadata answered {status}"),
    "metadata.not_found": ("GET [base]/metadata a répondu 404 Not Found : vérifiez l'URL de base (--mes-base-url ; "
                           "elle se termine souvent par /fhir)",
                           "GET [base]/metadata answered 404 Not Found: check the base URL (--mes-base-url; it often "
                           "ends in /fhir)"),
    "metadata.not_a_statement": ("GET [base]/metadata n'a pas renvoyé de CapabilityStatement",
                                 "GET [base]/metadata did not return a CapabilityStatement"),
    "metadata.refused": ("GET [base]/metadata : {refused}", "GET [base]/metadata: {refused}"),
    # What a precondition needs (Capability.describe), and what the CapabilityStatement lacks (capabilities.missing).
    "need.include": ("l'_include '{value}'", "_include '{value}'"),
    "need.interaction": ("l'interaction '{value}'", "interaction '{value}'"),
    "need.search_param": ("le paramètre de recherche '{value}'", "search parameter '{value}'"),
    "need.operation": ("l'opération '{value}'", "operation '{value}'"),
    "need.conditional_update": ("conditionalUpdate", "conditionalUpdate"),
    "need.format": ("le format '{value}'", "format '{value}'"),
    "need.support": ("la prise en charge", "support"),
    "need.on": ("{what} pour {resource}", "{what} on {resource}"),
    "need.system": ("{what} (niveau système)", "{what} (system level)"),
    "lacks.format": ("le format '{format}' n'est pas dans CapabilityStatement.format",
                     "format '{format}' is not among CapabilityStatement.format"),
    "lacks.server_rest": ("la CapabilityStatement n'a pas d'entrée rest de mode 'server'",
                          "the CapabilityStatement has no rest entry with mode 'server'"),
    "lacks.system_interaction": ("l'interaction système '{interaction}' n'est pas déclarée",
                                 "system interaction '{interaction}' is not declared"),
    "lacks.system_operation": ("l'opération '{operation}' n'est pas déclarée",
                               "operation '{operation}' is not declared"),
    "lacks.resource": ("le type de ressource {resource} n'est pas déclaré", "resource type {resource} is not declared"),
    "lacks.interaction": ("l'interaction '{interaction}' n'est pas déclarée pour {resource}",
                          "interaction '{interaction}' is not declared on {resource}"),
    "lacks.search_param": ("le paramètre de recherche '{param}' n'est pas déclaré pour {resource}",
                           "search parameter '{param}' is not declared on {resource}"),
    "lacks.operation": ("l'opération '{operation}' n'est pas déclarée pour {resource}",
                        "operation '{operation}' is not declared on {resource}"),
    "lacks.include": ("l'_include '{include}' n'est pas dans {resource}.searchInclude",
                      "_include '{include}' is not among {resource}.searchInclude"),
    "lacks.conditional_update": ("conditionalUpdate n'est pas déclaré pour {resource}",
                                 "conditionalUpdate is not declared on {resource}"),
    "unreadable.not_list": ("{where} n'est pas une liste", "{where} is not a list"),
    "unreadable.not_object": ("{where} n'est pas un objet", "{where} is not an object"),
    "unreadable.not_string": ("{where} n'est pas une chaîne", "{where} is not a string"),
    # The run's header and the lines after its summary in the terminal (pytest_mes.plugin, pytest_mes.reporting).
    "header.no_target": ("mes: aucun serveur à tester, donc aucun jeu de tests n'est collecté ({given} donné) : "
                         "ajoutez --mes-base-url=URL (ou MES_BASE_URL) ou --mes-sandbox",
                         "mes: no server to test, so no test set is collected ({given} given): add --mes-base-url=URL "
                         "(or MES_BASE_URL) or --mes-sandbox"),
    "header.target": ("mes: cible {target}", "mes: target {target}"),
    "header.sandbox": ("serveur de référence (dans le processus, en boucle locale)",
                       "reference sandbox (in-process, loopback)"),
    "header.defects": ("{target} avec les défauts {defects}", "{target} with defects {defects}"),
    "header.sets": ("mes: jeux de tests {sets} ; composants {components} ; écritures {writes}",
                    "mes: test sets {sets}; components {components}; writes {writes}"),
    "header.writes_allowed": ("autorisées", "allowed"),
    "header.writes_refused": ("non autorisées", "not allowed"),
    "header.pure_python.asked": ("mes: validateur en Python pur, plus lent (MES_PURE_PYTHON)",
                                 "mes: validator in pure Python, slower (MES_PURE_PYTHON)"),
    "header.pure_python.out_of_date": ("mes: validateur en Python pur, plus lent : ses modules compilés ne "
                                       "correspondent plus aux sources (pip install -e . les compile à nouveau)",
                                       "mes: validator in pure Python, slower: its compiled modules no longer match "
                                       "the sources (pip install -e . compiles them again)"),
    "header.unread": ("mes: attention, non lu : {problem}", "mes: warning, not read: {problem}"),
    "header.missing": ("mes: paquets FHIR manquants, les vérifications qui en ont besoin ne sont pas faites : "
                       "{missing} (`mes packages list` dit qui en a besoin)",
                       "mes: FHIR packages missing, checks that need them are not made: {missing} "
                       "(`mes packages list` says who needs them)"),
    "header.unknown_waiver": ("mes: attention, la dérogation {source} nomme le test {test}, qu'aucun jeu de tests "
                              "chargé n'a : elle ne couvrira rien{hint}",
                              "mes: warning: waiver {source} names the test {test}, which no loaded test set has: it "
                              "will cover nothing{hint}"),
    "wrote": ("mes: fichier écrit : {path}", "mes: wrote {path}"),
    "write_failed": ("impossible d'écrire {path} : {error}", "could not write {path}: {error}"),
    "write_interrupted": ("non écrits, l'exécution a été interrompue (Ctrl-C) pendant l'écriture de ses rapports : "
                          "{paths} (un fichier d'une exécution précédente est laissé tel quel)",
                          "not written, the run was interrupted (Ctrl-C) while its reports were written: {paths} (a "
                          "file of an earlier run is left as it was)"),
    "sandbox_failed": ("le serveur de référence n'a pas pu démarrer : {error}", "the sandbox could not start: {error}"),
    "fixture.no_server": ("aucun serveur à tester : indiquez --mes-base-url=URL ou --mes-sandbox",
                          "no server to test: pass --mes-base-url=URL or --mes-sandbox"),
    "fixture.no_statement": ("CapabilityStatement indisponible : {problem}",
                             "CapabilityStatement not available: {problem}"),
    "fixture.no_validator": ("pas de validateur : {problem}", "no validator: {problem}"),
    # A step that could not run as written, or whose values could not be saved (pytest_mes.testset.runner).
    "step.test_variables": ("variables du test : {error}", "test variables: {error}"),
    "step.nothing_to_clean": ("non exécutée, rien à nettoyer : {error}", "not run, nothing to clean: {error}"),
    "step.unbuildable": ("la requête n'a pas pu être construite : {error}", "the request could not be built: {error}"),
    "step.save": ("save '{name}' : {error}", "save '{name}': {error}"),
    "step.no_header": ("la réponse n'a pas d'en-tête {name}", "the response has no {name} header"),
    "step.found_nothing": ("FHIRPath {expression} n'a rien trouvé dans la réponse",
                           "FHIRPath {expression} found nothing in the response"),
    # A step that needs the server's test data found none (`needs_data:`, pytest_mes.testset.missing_data).
    "step.no_data": ("{request} : {missing}. À faire : {advice}", "{request}: {missing}. To do: {advice}"),
    "no_data.no_match": ("aucun {type} ne correspond à la recherche", "no {type} matched the search"),
    "no_data.nothing_matched": ("aucune ressource ne correspond à la recherche", "no resource matched the search"),
    "no_data.too_few": ("la recherche ne trouve que {found} {what}", "the search found only {found} {what}"),
    "no_data.results": ("résultat(s)", "result(s)"),
    "no_data.needed": (", il en faut au moins {needed}", ", at least {needed} are needed"),
    "no_data.too_few_found": ("l'expression FHIRPath « {expression} » trouve {found} valeur(s) dans la réponse, il en "
                              "faut au moins {needed}",
                              "the FHIRPath expression \"{expression}\" found {found} value(s) in the answer, at least "
                              "{needed} needed"),
    "no_data.none": ("aucune donnée à vérifier", "no data to check"),
    # Answers that mean the run (its credentials, its pace), not the server's conformance, is at fault
    # (pytest_mes.connection.RUN_REFUSED).
    "credentials.401": ("le serveur a refusé les identifiants de l'exécution (401 Unauthorized) : vérifiez "
                        "--mes-token, --mes-header, --mes-client-cert et l'utilisateur:mot de passe de --mes-base-url",
                        "the server refused the run's credentials (401 Unauthorized): check --mes-token, --mes-header, "
                        "--mes-client-cert and the user:password of --mes-base-url"),
    "credentials.407": ("le proxy a refusé les identifiants de l'exécution (407 Proxy Authentication Required) : "
                        "vérifiez les réglages du proxy (HTTPS_PROXY, avec son utilisateur et son mot de passe)",
                        "the proxy refused the run's credentials (407 Proxy Authentication Required): check the proxy "
                        "settings (HTTPS_PROXY, with its user and password)"),
    "pace.429": ("le serveur limite le rythme des requêtes (429 Too Many Requests{retry}) : rien n'a été vérifié ; "
                 "relancez plus tard, avec moins de workers (-n), ou demandez une limite plus haute pour la plateforme "
                 "de test",
                 "the server limits the pace of requests (429 Too Many Requests{retry}): nothing was checked; run "
                 "again later, with fewer workers (-n), or ask for a higher limit for the test platform"),
    # What a waiver did to a test (pytest_mes.waivers).
    "waiver.expired_note": ("dérogation {source} expirée le {date} : elle ne s'applique plus",
                            "waiver {source} expired on {date}: it no longer applies"),
    "waiver.applied_note": ("dérogation {source} appliquée à {check}", "waiver {source} applied to {check}"),
    # What went wrong on the wire, and a body that is not usable JSON (pytest_mes.client).
    "http.no_body": ("la réponse n'a pas de corps (HTTP {status})", "the response has no body (HTTP {status})"),
    "http.no_content_type": ("pas de Content-Type", "no Content-Type"),
    "http.too_deep": ("le corps de la réponse ({kind}) est un JSON trop imbriqué pour être lu (des centaines de "
                      "niveaux)",
                      "the response body ({kind}) is JSON nested too deeply to be read (hundreds of levels)"),
    "http.not_json": ("le corps de la réponse n'est pas un JSON valide ({kind}) : {error}",
                      "the response body is not valid JSON ({kind}): {error}"),
    "http.not_utf8": ("le corps de la réponse n'est pas en UTF-8, l'encodage qu'exige FHIR (octet {byte} à la position "
                      "{position} ; {declared})",
                      "the response body is not UTF-8, the encoding FHIR requires (byte {byte} at position {position}; "
                      "{declared})"),
    "http.unasked_encoding": ("le corps de la réponse est compressé (Content-Encoding: {encoding}) d'une façon que la "
                              "requête n'acceptait pas (Accept-Encoding: {accepted}) : il ne peut pas être lu",
                              "the response body is compressed (Content-Encoding: {encoding}) in a way the request "
                              "did not accept (Accept-Encoding: {accepted}): it cannot be read"),
    "http.not_object": ("le corps de la réponse n'est pas une ressource FHIR (un objet JSON) : {value}",
                        "the response body is not a FHIR resource (a JSON object): {value}"),
    "http.credentials_kept": ("identifiants non envoyés : {host} n'est pas le serveur testé",
                              "credentials not sent: {host} is not the server under test"),
    "http.unsendable": ("la requête n'a pas pu être envoyée telle qu'écrite : {error}",
                        "the request could not be sent as written: {error}"),
    "http.too_large": ("la réponse dépasse {limit} octets ; lecture arrêtée (relevez la limite avec "
                       "--mes-max-response-bytes si c'est attendu)",
                       "the response is larger than {limit} bytes; reading stopped (raise the limit with "
                       "--mes-max-response-bytes if this is expected)"),
    "http.unresponsive": ("serveur muet depuis {since} UTC ({n} requêtes de suite sans réponse, la dernière : "
                          "{last}) : non envoyée",
                          "server unresponsive since {since} UTC ({n} requests in a row without an answer, the "
                          "last: {last}): not sent"),
    "http.tls": ("échec TLS avec {host} : {cause}. Vérifiez --mes-ca-bundle (certificat du serveur) et "
                 "--mes-client-cert/--mes-client-key (TLS mutuel)",
                 "TLS failure talking to {host}: {cause}. Check --mes-ca-bundle (server certificate) and "
                 "--mes-client-cert/--mes-client-key (mutual TLS)"),
    "http.connect_timeout": ("pas de connexion à {host} en {seconds} s (délai de connexion)",
                             "no connection to {host} within {seconds} s (connect timeout)"),
    "http.read_timeout": ("{host} a accepté la connexion mais n'a pas envoyé de réponse complète en {seconds} s "
                          "(--mes-timeout)",
                          "{host} accepted the connection but sent no complete answer within {seconds} s "
                          "(--mes-timeout)"),
    "http.closed": ("{host} a fermé la connexion sans répondre (la requête n'a pas été renvoyée)",
                    "{host} closed the connection without answering (the request was not sent again)"),
    "http.cut": ("la réponse de {host} a été coupée avant sa fin (corps tronqué : {cause})",
                 "the response from {host} was cut off before its end (truncated body: {cause})"),
    "http.bad_chunks": ("la réponse de {host} n'est pas un codage par morceaux valide (Transfer-Encoding: chunked ; "
                        "une taille de morceau vaut {size}) : le serveur ou un proxy devant lui l'écrit mal",
                        "the response from {host} is not valid chunked transfer encoding (a chunk size reads {size}): "
                        "the server or a proxy in front of it writes it wrongly"),
    "http.refused": ("connexion impossible à {host} : {cause}. Le serveur est-il démarré, et --mes-base-url "
                     "est-elle juste ?",
                     "cannot connect to {host}: {cause}. Is the server running, and is --mes-base-url right?"),
    "http.not_tls": ("{host} ne parle pas TLS sur ce port ({cause}) : --mes-base-url commence-t-elle par https:// "
                     "quand le serveur attend http:// ?",
                     "{host} does not speak TLS on this port ({cause}): does --mes-base-url start with https:// "
                     "where the server wants http://?"),
    "http.not_http": ("{host} a répondu, mais pas en HTTP ({cause}) : --mes-base-url désigne-t-elle bien le serveur "
                      "FHIR (schéma et port) ?",
                      "{host} answered, but not in HTTP ({cause}): does --mes-base-url name the FHIR server (scheme "
                      "and port)?"),
    "http.headers_too_large": ("{host} a répondu avec des en-têtes que le client HTTP de Python refuse de lire "
                               "({cause} ; ses limites : 100 en-têtes, 64 Kio par ligne) : la réponse n'est pas "
                               "vérifiée",
                               "{host} answered with headers Python's HTTP client refuses to read ({cause}; its "
                               "limits: 100 headers, 64 KiB a line): the answer is not checked"),
    "http.redirect_loop": ("trop de redirections depuis {host} (plus de {n}) : une boucle ? Vérifiez --mes-base-url et "
                           "les redirections du serveur",
                           "too many redirects from {host} (more than {n}): a loop? Check --mes-base-url and the "
                           "server's redirects"),
    "http.invalid_url": ("URL invalide {url} : {error}", "invalid URL {url}: {error}"),
    "http.bad_encoding": ("la réponse de {host} annonce une compression (Content-Encoding: {encoding}) que son corps "
                          "ne suit pas ({cause}) : le serveur ou un proxy devant lui la compresse mal",
                          "the response from {host} declares a compression (Content-Encoding: {encoding}) its body "
                          "does not follow ({cause}): the server or a proxy in front of it compresses it wrongly"),
    "http.failure": ("échec HTTP avec {host} : {cause}", "HTTP failure with {host}: {cause}"),
    "fhirpath.unevaluable": ("FHIRPath {expression} ne peut pas être évalué : {cause}",
                             "cannot evaluate FHIRPath {expression}: {cause}"),
    "template.no_env": ("la variable d'environnement {env} n'est pas définie (utilisée comme {placeholder})",
                        "environment variable {env} is not set (used as {placeholder})"),
    "template.out_of_range": ("{placeholder} : date hors limites (années 1 à 9999) : donnez un décalage plus petit",
                              "{placeholder}: a date out of range (years 1 to 9999): give a smaller offset"),
    "template.unknown": ("variable inconnue {placeholder}{hint} ; variables connues : {known} ; intégrées : {builtins}",
                         "unknown variable {placeholder}{hint}; known variables: {known}; built-ins: {builtins}"),
    # A false `X.all(criteria)` check (pytest_mes.testset.checks).
    "offenders": ("faux pour {n} des {total} éléments de {collection} : {shown}",
                  "false for {n} of {total} items of {collection}: {shown}"),
    "offenders.more": (" et {n} de plus", " and {n} more"),
    # Why a run stopped before its end (pytest_mes.reporting), and the reason it gives the run's verdict.
    "interruption.signal": ("interrompue (Ctrl-C ou erreur fatale) avant que tous les tests aient été exécutés",
                            "interrupted (Ctrl-C or a fatal error) before every test had run"),
    "interruption.stopped": ("arrêtée avant la fin : {why}", "stopped early: {why}"),
    "interruption.collection": ("arrêtée à la collecte, aucun test n'a été exécuté ({n} erreur(s)) : {errors}",
                                "stopped at collection, no test ran ({n} error(s)): {errors}"),
    "interruption.reason": ("exécution interrompue : {why}", "run interrupted: {why}"),
    # The rule of the run's verdict, and the reasons it gives (pytest_mes.results).
    "run.rule": ("Non conforme dès qu'une exigence SHALL n'est pas satisfaite (ou SHOULD avec --mes-fail-on=should) ; "
                 "sinon incomplet dès qu'un test n'a pas pu être vérifié entièrement (vérification non faite, données "
                 "de test absentes, erreur, exécution interrompue, jeu de tests illisible) ou qu'aucune exigence MES "
                 "n'a été testée (aucun test d'un jeu de tests exécuté) ; conforme sinon. Les tests non exécutés "
                 "(avec leur motif) et les dérogations justifiées n'empêchent pas la conformité ; vos propres tests "
                 "Python ne vérifient aucune exigence MES.",
                 "Non-conformant as soon as a SHALL requirement fails (or a SHOULD one with --mes-fail-on=should); "
                 "otherwise incomplete as soon as a test could not be fully checked (a check not made, test data "
                 "missing, an error, an interrupted run, an unreadable test set) or no MES requirement was tested (no "
                 "test of a test set ran); conformant otherwise. Skipped tests (with their reason) and justified "
                 "waivers do not prevent conformance; your own Python tests verify no MES requirement."),
    # (with --mes-fail-on=should a SHOULD failure counts too: the reason names no level)
    "run.failed": ("{n} test(s) non conforme(s) : une exigence n'est pas satisfaite",
                   "{n} test(s) failed: a requirement is not met"),
    "run.incomplete": ("{n} test(s) incomplet(s) : une vérification n'a pas pu être faite",
                       "{n} test(s) incomplete: a check could not be made"),
    "run.error": ("{n} test(s) en erreur : le serveur ou l'outil n'a pas pu les exécuter",
                  "{n} test(s) in error: the server or the harness could not run them"),
    "run.uncollected": ("{n} fichier(s) de tests illisible(s), leurs tests n'ont pas été exécutés : {errors}",
                        "{n} unreadable test file(s), whose tests did not run: {errors}"),
    "run.no_mes_test": ("aucune exigence MES n'a été testée : aucun test d'un jeu de tests n'a été exécuté (tous non "
                        "exécutés, désélectionnés ou absents ; vos propres tests Python ne comptent pas)",
                        "no MES requirement was tested: no test of a test set ran (all skipped, deselected or "
                        "absent; your own Python tests do not count)"),
}


def label(key: str, lang: str) -> str:
    fr, en = LABELS[key]
    return en if lang == "en" else fr


def lead(key: str, lang: str) -> str:
    """The label `key` followed by a colon as the language writes it ("Motif : ", "Reason: ")."""
    return label(key, lang) + label("colon", lang)


def phrase(key: str, **values: Any) -> Phrase:
    """The label `key` in every language, its placeholders filled (a Phrase value in the matching language)."""
    fr, en = (text.format(**{name: value.get(lang) if isinstance(value, Phrase) else value
                             for name, value in values.items()})
              for lang, text in zip(LANGS, LABELS[key], strict=True))
    return Phrase(fr, en)


def did_you_mean(name: str | None, lang: str) -> str:
    """" — did you mean 'NAME'?" in `lang`, or "" without a name."""
    return label("did_you_mean", lang).format(name=name) if name else ""


def labels(lang: str) -> dict[str, str]:
    """Every label in one language (handed to the report's script)."""
    return {key: label(key, lang) for key in LABELS}


def pick(text: Any, lang: str) -> str:
    """A bilingual {"fr", "en"} text in ``lang`` (French when the English is missing); plain strings as they are."""
    if isinstance(text, dict):
        return str(text.get(lang) or text.get("fr") or next((v for v in text.values() if v), ""))
    return "" if text is None else str(text)


def document_title(results: dict, lang: str) -> str:
    """"Cahier de recette — Agenda+ — 4.2": the file's name for the solution tested."""
    identification = (results.get("run") or {}).get("identification") or {}
    parts = [label("title", lang), identification.get("solution"), identification.get("solution_version")]
    return " — ".join(str(part) for part in parts if part)


def run_lang(results: dict) -> str:
    lang = (results.get("run") or {}).get("lang")
    return lang if lang in LANGS else "fr"
