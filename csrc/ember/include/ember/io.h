/* ember/io.h — CSV reader (issue 5).  Included by ember.h. */
#ifndef EMBER_IO_H
#define EMBER_IO_H

#endif
