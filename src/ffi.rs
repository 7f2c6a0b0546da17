//! C ABI (see include/exectrace.h).
