/* ember/autograd.h — reverse-mode autodiff, optimiser steps, losses (issue 4).  Included by ember.h. */
#ifndef EMBER_AUTOGRAD_H
#define EMBER_AUTOGRAD_H

#endif
