/* version.h: the one place the version is written. */
#ifndef PT_VERSION_H
#define PT_VERSION_H
#define PT_VERSION "0.1.0"
#endif
