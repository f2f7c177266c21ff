# Read by Cython only: see references.pxd and walk.pxd.
cimport cython

from pytest_mes.fhir.compiler cimport ElementDef
from pytest_mes.fhir.references cimport ReferenceChecks


cdef class SlicingChecks(ReferenceChecks):
    @cython.locals(s=ElementDef, node=ElementDef)
    cpdef check_slices(self, ElementDef base, items, loc)
    cpdef slice_matches(self, ElementDef s, item, discriminators, ElementDef base, values_at)
    cpdef value_discriminator(self, ElementDef s, values, text, dtype, path)
    cpdef eval_path(self, value, tcode, path)
