# Read by Cython only: see references.pxd. A node declared an ElementDef (compiler.pxd) has its fields read in C;
# a None given there raises AttributeError, as in the pure-Python walk (hatch_build.py compiles with nonecheck).
cimport cython

from pytest_mes.fhir.compiler cimport ElementDef
from pytest_mes.fhir.slicing cimport SlicingChecks


cdef class Walk(SlicingChecks):
    cpdef substitution(self, schema, loc)
    cpdef bint first_visit(self, key) except -1
    cpdef say_once(self, about, issue)
    cpdef by_bundle_rules(self, ElementDef elem, rtype, loc)
    cpdef one_of(self, res, profiles, loc, context)
    cpdef holder_for(self, ElementDef elem, type_code)
    cpdef unrolled_elsewhere(self, ElementDef holder, type_code, key)
    @cython.locals(node=ElementDef)
    cpdef content_target(self, ElementDef elem)
    cpdef check_object(self, ElementDef holder, obj, loc, type_code, ElementDef elem)
    @cython.locals(child=ElementDef, s=ElementDef)
    cpdef check_members(self, ElementDef holder, obj, loc, type_code, ElementDef elem)
    cpdef check_count(self, ElementDef holder, ElementDef child, n, loc)
    cpdef check_count_unsliced(self, ElementDef holder, ElementDef child, n, loc)
    @cython.locals(rule=ElementDef)
    cpdef check_count_of(self, ElementDef holder, name, n, loc)
    @cython.locals(sliced=ElementDef)
    cpdef sliced_names_no_profile(self, ElementDef elem, rtype)
    cpdef check_items(self, ElementDef child, items, loc, ElementDef elem, type_code)
    cpdef check_array(self, ElementDef child, values, tcode, at, ElementDef elem, type_code)
    cpdef enter(self, ElementDef child, ElementDef elem, type_code)
    cpdef collect(self, ElementDef child, tcode, key, val, companion, loc, groups)
    @cython.locals(target=ElementDef, holder=ElementDef)
    cpdef check_item(self, ElementDef elem, value, ext, tcode, loc)
    cpdef check_narrative_languages(self, ElementDef elem, narrative, loc)
    cpdef check_value_rules(self, ElementDef elem, value, tcode, loc)
    cpdef check_binding(self, ElementDef elem, value, tcode, loc)
    cpdef check_primitive(self, ElementDef elem, value, ext, tcode, loc)
    cpdef decide_primitive_check(self, ElementDef elem, tcode)
    cpdef check_json_kind(self, rule, value, tcode, loc, ElementDef elem)
    cpdef check_invariants(self, ElementDef elem, tcode, value, loc)
    @cython.locals(holder=ElementDef)
    cpdef check_extension(self, ElementDef elem, obj, loc)
    cpdef unknown_extension(self, ElementDef elem, url, loc)
    cpdef element_path(self, extension_loc)
    cpdef in_context(self, contexts, url, path)
