/* Instantiates the template named by LA_TEMPLATE for float and double:
 * inside it T is the element type, SFX(name) appends _f32/_f64, LA_EPS is
 * the machine epsilon and LA_TINY the smallest normal number. */
#include <float.h>

#define T float
#define SFX(x) x##_f32
#define LA_EPS FLT_EPSILON
#define LA_TINY FLT_MIN
#include LA_TEMPLATE
#undef T
#undef SFX
#undef LA_EPS
#undef LA_TINY

#define T double
#define SFX(x) x##_f64
#define LA_EPS DBL_EPSILON
#define LA_TINY DBL_MIN
#include LA_TEMPLATE
#undef T
#undef SFX
#undef LA_EPS
#undef LA_TINY
#undef LA_TEMPLATE
