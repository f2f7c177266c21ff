# Read by Cython only (hatch_build.py), never by Python: ElementDef compiled as a cdef class, whose fields the
# walk (walk.pxd, slicing.pxd) reads as C fields where it declares a node an ElementDef. Its dictionaries and lists
# are declared so (compiler.py makes them so), the walk's lookups in them then made in C; the other fields are
# any Python object, as in the pure-Python build.

cdef class ElementDef:
    cdef public dict children, json_names, type_refs, invariant_plans, primitive_checks
    cdef public list types, constraints, slices, required, optional_ms
    cdef public object base_binding, base_path, binding, bounds, choice, content_reference, fixed, grouped
    cdef public object has_invariants, id, is_array, max, max_length, max_text, min, min_length, must_have_value
    cdef public object must_support, name, narrative_languages, path, pattern, schema, slice_name, slicing
    cdef public object value_alternatives
