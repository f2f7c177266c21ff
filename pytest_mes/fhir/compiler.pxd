# Read by Cython only (hatch_build.py), never by Python: ElementDef compiled as a cdef class, whose fields the
# walk (walk.pxd, slicing.pxd) reads as C fields where it declares a node an ElementDef. Every field a Python
# object, as in the pure-Python build.

cdef class ElementDef:
    cdef public object base_binding, base_path, binding, bounds, children, choice, constraints, content_reference
    cdef public object fixed, grouped, has_invariants, id, invariant_plans, is_array, json_names, max, max_length
    cdef public object max_text, min, min_length, must_have_value, must_support, name, narrative_languages
    cdef public object optional_ms, path, pattern, primitive_checks, required, schema, slice_name, slices, slicing
    cdef public object type_refs, types, value_alternatives
