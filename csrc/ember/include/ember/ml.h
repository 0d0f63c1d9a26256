/* ember/ml.h — dense linear algebra and classic machine learning (issue 5).  Included by ember.h. */
#ifndef EMBER_ML_H
#define EMBER_ML_H

#endif
