"""The English wording of the validator's issue catalogue: one template per message id of
:data:`pytest_mes.fhir.issues.MSG`, with the same placeholders (a test holds the two catalogues to
the same ids and placeholders, so a message cannot ship untranslated)."""

from __future__ import annotations

MSG_EN: dict[str, str] = {
    "UNKNOWN_ELEMENT": "Unknown element '{name}': it does not exist in {type}.",
    "NOT_AN_OBJECT": "A JSON object is expected for an element of type {type}, found: {found}.",
    "NOT_A_RESOURCE": "A FHIR resource (a JSON object with 'resourceType') is expected, found: {found}.",
    "UNKNOWN_RESOURCE_TYPE": "Resource type unknown in FHIR R4: '{type}'.",
    "ARRAY_EXPECTED": "'{name}' must be a JSON array (the element repeats), found: {found}.",
    "XML_ORDER": "XML element '{name}' out of place: it must come before '{before}' (FHIR XML follows the order of "
                 "the definitions).",
    "XML_ATTRIBUTE": "Unknown XML attribute '{name}' on {type} (ignored).",
    "XML_CHOICE": "Only one type is allowed for '{name}[x]': found '{first}' and '{second}'.",
    "XML_REPEATED": "XML element '{name}' repeated although it allows one occurrence only (only the first is read).",
    "DUPLICATE_KEY": "JSON property '{name}' appears twice in the same object: the document is invalid (a reader "
                     "would keep only one of the values).",
    "SINGLE_EXPECTED": "'{name}' must not be a JSON array (the element does not repeat).",
    "EMPTY_ARRAY": "Empty array not allowed in FHIR JSON for '{name}': leave the element out.",
    "NULL_VALUE": "Null value not allowed for '{name}'.",
    "EMPTY_OBJECT": "Empty object not allowed: an element must have a value or child elements (ele-1).",
    "COMPANION_MISMATCH": "'_{name}' does not match '{name}' (arrays of the same length expected).",
    "WRONG_JSON_TYPE": "JSON value of type {found} for a FHIR {type}: {expected} expected.",
    "BAD_FORMAT": "Value '{value}' is not a valid {type} (FHIR format not followed).",
    "EMPTY_STRING": "Empty string not allowed: leave the element out rather than sending \"\".",
    "BLANK_STRING": "String made of whitespace only: a value without content, to leave out or to fill in.",
    "INTEGER_RANGE": "Value {value} out of the bounds of a FHIR {type}.",
    "MIN_LENGTH": "Value of {length} characters: at least {min} expected (minLength).",
    "VALUE_BELOW_MIN": "Value {value} is below the minimum {bound} (minValue).",
    "VALUE_ABOVE_MAX": "Value {value} is above the maximum {bound} (maxValue).",
    "REF_CONTAINED_NOT_FOUND": "Reference {reference} not found: no contained resource has this id.",
    "XHTML_ELEMENT": "XHTML element '{name}' is not allowed in a narrative (only basic HTML formatting: no script, "
                     "form, frame nor object).",
    "FIXED_VALUE_CHANGED": "Element {element} fixes the value {value} where its base fixes {base}: a derived "
                           "profile cannot change a fixed value.",
    "REF_WRONG_TYPE": "Reference {reference} designates a resource of type {type}.",
    "DISCRIMINATOR_PATH": "Discriminator path '{path}' names no element of {element}, the sliced element.",
    "INVARIANT_EXPRESSION": "Constraint {key}: invalid FHIRPath expression, it cannot be evaluated ({why}).",
    "BASE_LOOSENED": "Element {element}: {what} is {value} where its base sets {base}; a profile may only constrain "
                     "its base.",
    "BINDING_NOT_BINDABLE": "Element {element} has a binding to a ValueSet but its types ({types}) are not coded: only "
                            "code, Coding, CodeableConcept, Quantity, string, uri and the types deriving from them "
                            "bind to a ValueSet.",
    "SLICING_REDEFINED": "Element {element} is sliced by {slicing}, but its slice {slice} redefines that slicing as "
                         "{other}.",
    "SNAPSHOT_ERROR": "The snapshot cannot be generated from the differential: {why}.",
    "DIFF_NO_MATCH": "No element of the generated snapshot matches the differential's element {element}: check "
                     "its path and the order of the elements.",
    "MEASURE_CQL_UNKNOWN": "{name} is not defined in the library {url}.",
    "OPDEF_PROFILE_NOT_FOUND": "'{use}' profile {url} not found in the loaded packages (or without a usable "
                               "snapshot): the operation's parameters are not compared with it.",
    "OPDEF_PROFILE_NOT_PARAMETERS": "The '{use}' profile {url} constrains {type}, not Parameters.",
    "OPDEF_SLICE_NOT_IN_OPERATION": "The '{use}' profile {url} defines a parameter '{name}' that the operation does "
                                    "not declare as '{use}'.",
    "OPDEF_PARAMETER_NOT_IN_PROFILE": "The operation's parameter '{name}' ({use}) has no slice in the '{use}' profile "
                                      "{url}.",
    "OPDEF_PARAMETER_DIFFERS": "Parameter '{name}' ({use}): {field} is {operation} in the operation and {profile} in "
                               "its '{use}' profile.",
    "OPDEF_TYPE_NOT_IN_OPERATION": "Parameter '{name}' ({use}): the profile allows type {type}, which the operation "
                                   "does not (the operation's types: {allowed}).",
    "OPDEF_TYPE_NOT_IN_PROFILE": "Parameter '{name}' ({use}): the operation allows type {type}, which its profile "
                                 "does not (the profile's types: {allowed}).",
    "OPDEF_TARGET_NOT_IN_PROFILE": "Parameter '{name}' ({use}): the operation's target profile {target} is not among "
                                   "those of its '{use}' profile.",
    "OPDEF_TARGET_NOT_IN_OPERATION": "Parameter '{name}' ({use}): the target profile {target} of its '{use}' profile "
                                     "is not among the operation's.",
    "MR_MEASURE_NOT_FOUND": "Report not checked against its measure: {url} is in no loaded package nor --ig.",
    "MR_POPULATION_UNKNOWN": "Population {code} is not in the matching group of the measure.",
    "MR_SUBJECTS_NOT_LISTED": "A report of type {type} lists no subjects (subjectResults): only a subject-list "
                              "report does.",
    "SP_EXPRESSION_TYPE": "The search expression starts with {types}: the expression's first step must be one of "
                          "the parameter's base resource types ({bases}).",
    "SP_BASE_NOT_DERIVED": "Base {type} is not a base of the search parameter {url} this one derives from.",
    "QR_QUESTIONNAIRE_NOT_FOUND": "Answers not checked against their questionnaire: {url} is in no loaded package "
                                  "nor --ig.",
    "QR_LINKID_UNKNOWN": "Item '{link}' is not in the questionnaire at this place.",
    "QR_ITEM_NOT_ENABLED": "Item '{link}' has an answer though its enableWhen disables it.",
    "QR_ITEM_ORDER": "Item '{link}' is out of the questionnaire's item order.",
    "QR_ITEM_REPEATED": "Item '{link}' is repeated though the question does not repeat (repeats).",
    "QR_TEXT_DIFFERS": "The text of item '{link}' is not the question's.",
    "QR_ANSWER_REPEATED": "Item '{link}': several answers though the question does not repeat (repeats).",
    "QR_ANSWER_NOT_ALLOWED": "Item '{link}' of type {type}: it takes no answer.",
    "QR_ITEMS_MISPLACED": "Item '{link}' of type {type}: its sub-items go under its answers (answer.item), only a "
                          "group has items.",
    "QR_ANSWER_TYPE": "Answer of type {found} to item '{link}': {expected} expected.",
    "QR_ANSWER_NOT_OPTION": "Answer {value} to item '{link}' is not among the question's options (answerOption).",
    "QR_REQUIRED_MISSING": "Required item '{link}' has no answer (completed questionnaire).",
    "ATTACHMENT_SIZE": "Stated size {size} differs from the actual size of the data ({actual} bytes).",
    "STRING_HTML": "Text holding what looks like an HTML tag ('{tag}'): shown as HTML without escaping, it would be "
                   "interpreted; escape the markup (&lt; for <) or remove it.",
    "EXAMPLE_URL": "Example URL ({url}) not allowed here: example domains are refused.",
    "NARRATIVE_SECTIONS_PROHIBITED": "The narrative has language sections ({found}) but the profile prohibits "
                                     "them.",
    "NARRATIVE_SECTIONS_REQUIRED": "The narrative has no language section (<div lang=\"…\">) but the profile "
                                   "requires them.",
    "NARRATIVE_SECTION_MISSING": "The narrative has no section for the language {language} the profile requires "
                                 "(sections found: {found}).",
    "PRIMITIVE_EMPTY": "A {type} element with neither a value nor an extension: an element of a primitive type needs "
                       "a value, or an extension in its place.",
    "VALUE_REQUIRED": "No value: the profile requires one, an extension in its place is not enough (mustHaveValue).",
    "VALUE_ALTERNATIVE": "No value, and none of the extensions the profile allows in its place: {alternatives} "
                         "(valueAlternatives).",
    "MAX_LENGTH": "Value of {length} characters: at most {max} allowed.",
    "CARD_MIN": "{count} occurrence(s) of '{name}', at least {min} expected (cardinality {min}..{max}).",
    "CARD_MAX": "{count} occurrence(s) of '{name}', at most {max} allowed (cardinality {min}..{max}).",
    "SLICE_MIN": "Slice '{slice}' of '{name}': {count} occurrence(s), at least {min} expected ({min}..{max}).",
    "SLICE_MAX": "Slice '{slice}' of '{name}': {count} occurrence(s), at most {max} allowed ({min}..{max}).",
    "SLICE_CLOSED": "This '{name}' element matches none of the allowed slices ({slices}) and the slicing is closed.",
    "SLICE_ORDER": "Slice order not followed: '{slice}' after '{previous}' although the slicing is ordered.",
    "SLICE_OPEN_AT_END": "Element outside any slice before the end of '{name}' although the slicing is 'openAtEnd'.",
    "SLICE_NOT_CHECKED": "Slice of '{name}' not determined: the discriminator depends on a value set not available "
                         "offline.",
    "TYPE_PROFILE_NO_MATCH": "The value conforms to none of the profiles allowed for its type: {profiles}.",
    "TYPE_PROFILE_NOT_FOUND": "Type profile {url} not found in the loaded packages: its constraints are not checked.",
    "SLICE_UNDETERMINABLE": "Slice '{slice}' of '{name}' not determined: its discriminator '{path}' has no fixed "
                            "value, no pattern and no required binding; membership of this slice is not checked.",
    "SLICE_ASSUMED": "Element assigned to slice '{slice}' of '{name}' without checking its whole discriminator (value "
                     "set not available offline).",
    "FIXED": "Value {actual} differs from the fixed value {expected}.",
    "PATTERN": "Value {actual} does not match the pattern {expected}.",
    "BINDING_REQUIRED": "Code {code} is not in the required value set {valueset} (binding required).",
    "BINDING_EXTENSIBLE": "Code {code} is not in the value set {valueset} (binding extensible: use it if one of its "
                          "codes fits).",
    "BINDING_PREFERRED": "Code {code} is not in the preferred value set {valueset} (binding preferred).",
    "BINDING_NOT_CHECKED": "Code {code} not checked: the value set {valueset} cannot be expanded offline ({why}).",
    "BINDING_DEFINITION_NOT_FOUND": "Required value set {valueset} (binding required) not checked: {why}. Load the "
                                    "FHIR package that defines the ValueSet or its CodeSystem.",
    "BINDING_NO_CODE": "No code given (text only) although the value set {valueset} is bound (binding {strength}): "
                       "add a coding.",
    "INVARIANT": "Constraint {key} not satisfied: {human}",
    "INVARIANT_NOT_CHECKED": "Constraint {key} not checked: {why}.",
    "PROJECT_RULE": "pytest-mes project rule {rule} not satisfied — the project's reading of constraint {key}, "
                    "stated in words only by {profile}: {statement}.",
    "PROJECT_RULE_NOT_CHECKED": "pytest-mes project rule {rule} (reading of constraint {key}) not checked: {why}.",
    "EXTENSION_UNKNOWN": "Extension {url} not checked: its definition is not in the loaded FHIR packages.",
    "EXTENSION_CONTEXT": "Extension {url} not allowed here (allowed contexts: {contexts}).",
    "EXTENSION_NOT_FOUND": "Extension {url} not found: its definition is in no loaded package nor --ig, so it is "
                           "not allowed here.",
    "EXTENSION_EXAMPLE_DOMAIN": "Extension {url} not checked: the url is in an example domain, accepted without a "
                                "definition (as the HL7 validator does).",
    "BUNDLE_REF_NOT_FOUND": "Reference {reference} not found in the document (a document Bundle is self-contained; "
                            "resolved by fullUrl).",
    "BUNDLE_ENTRY_UNREACHABLE": "Entry {url} cannot be reached from the Composition by following references: a "
                                "document holds only what its Composition points to.",
    "BUNDLE_NO_FULLURL": "Entry without a fullUrl: except in transactions and batches, each entry with a resource "
                         "must have a fullUrl, the identity of the resource.",
    "BUNDLE_FULLURL_RELATIVE": "fullUrl '{url}' is relative: it must be an absolute URL (urn:uuid:…, "
                               "https://…/Type/id).",
    "BUNDLE_FULLURL_MISMATCH": "fullUrl '{url}' looks like a RESTful URL: it must end with the resource's type "
                               "and id ({expected}).",
    "EXTENSION_CONTEXT_NOT_CHECKED": "Context of use of extension {url} not checked: its contexts ({contexts}) are "
                                     "not evaluated by pytest-mes.",
    "INTERNAL_ERROR": "Internal validator error ({why}): resource not checked, please report it.",
    "EXTENSION_NO_URL": "Extension without an absolute 'url' ('{url}'): outside a complex extension, the url must be "
                        "the canonical url of the extension's definition.",
    "MODIFIER_EXTENSION_UNKNOWN": "Unknown modifier extension {url}: a resource carrying an unknown modifierExtension "
                                  "must be rejected.",
    "CONTEXT_UNKNOWN": "Unknown context {context}: this package is not loaded; canonical urls without a version "
                       "resolve to the latest version loaded.",
    "DEPENDENCY_SUBSTITUTED": "Dependency {wanted} (required by {by}) is missing: {used} stands in for it; its rules, "
                              "which {wanted} may not have, are reported as warnings, not errors.",
    "PROFILE_NOT_FOUND": "Profile not found in the loaded FHIR packages: {url}.",
    "META_PROFILE_NOT_FOUND": "Profile declared in meta.profile not found, not checked: {url}.",
    "PROFILE_WRONG_TYPE": "Profile {url} applies to {expected} resources, not to {type}.",
    "REF_TARGET_TYPE": "Reference to a {type} not allowed here: allowed targets {allowed}.",
    "REF_TARGET_PROFILE": "The referenced resource ({target}) conforms to none of the expected profiles: {profiles}.",
    "REF_CHAIN_CUT": "Conformance of referenced resources not checked beyond {depth} chained references (each target "
                     "is judged on its own references): the end of the chain is assumed conformant.",
    "TOO_DEEP": "Document nested too deeply to be validated (more than {limit} objects one inside the other): "
                "resource not checked. A FHIR resource nests a few dozen at most: the document was probably "
                "generated in a loop, or is corrupt.",
    "REF_NOT_CHECKED": "Target of reference {reference} not checked: target profile(s) not found in the loaded FHIR "
                       "packages: {profiles}.",
    "REF_RESOLVE_FAILED": "Target of reference {reference} not obtained (the reference resolver failed: {why}): not "
                          "checked.",
    "REF_NOT_BUNDLED": "Reference {reference} must point to a resource in the Bundle (aggregation 'bundled'): it "
                       "is not there.",
    "REF_NOT_CONTAINED": "Reference {reference} must point to a contained resource ('#id'): aggregation 'contained'.",
    "MUST_SUPPORT": "Must-support element '{name}' absent: the system must be able to handle it.",
    "NOT_JSON": "Unreadable document: {why}.",
}
