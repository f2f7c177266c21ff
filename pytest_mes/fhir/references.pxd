# Read by Cython only (hatch_build.py), never by Python: the compiled walk's classes as one chain of cdef classes,
# ReferenceChecks -> SlicingChecks -> Walk, whose state is C fields and whose hot methods are called in C
# (cpdef). The pure-Python build is the same .py files, unchanged by this. A method holding a lambda, a closure,
# a generator expression, keyword-only or ** arguments cannot be cpdef: it stays a Python method.

cdef class ReferenceChecks:
    # Walk's state (Walk.__init__ sets it, Walk.__slots__ lists it), declared on the first class that reads it
    cdef public object v, defs, conformance, resource, resource_loc, root, pkg, container, extension_url, origin
    cdef public object substitute
    cdef public list issues, borrowed, bundles
    cdef public set done
    cdef public dict said
    cdef public int depth
    cdef public Py_ssize_t repeats
    cdef public bint base_walk, base_rules

    cpdef resolve_reference(self, ref)
    cpdef fetch_target(self, ref, loc)
    cpdef conforms(self, resource, profile, context)
    cpdef judge_conformance(self, resource, profile, context, key)
    cpdef declared_derivation(self, resource, schema, context)
    cpdef stand_in(self, schema, context)
