/* ember/kernels.h — GEMM with epilogue, convolution, pooling, normalisation (issue 3).  Included by ember.h. */
#ifndef EMBER_KERNELS_H
#define EMBER_KERNELS_H

#endif
